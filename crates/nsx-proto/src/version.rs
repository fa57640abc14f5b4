//! Protocol versions and their negotiation.
//!
//! Each end speaks a range of minor versions of one major version. The adapter offers its
//! range in its hello (`protocol_version` = highest, `min_protocol_version` = lowest); NSX
//! answers with the highest version in both ranges, or refuses with
//! `ERROR_CODE_VERSION_UNSUPPORTED`. See docs/protocol.md "Versioning".

use std::fmt;

use crate::v1::{ChannelError, ErrorCode, ProtocolVersion};

/// The major version of this crate's protocol; also the `v1` of the proto package.
pub const PROTOCOL_MAJOR: u32 = 1;
/// The newest minor version this crate knows.
pub const PROTOCOL_MINOR: u32 = 0;

/// Why no version could be agreed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// The hello carries no `protocol_version`.
    #[error("hello has no protocol_version")]
    Missing,
    /// `min_protocol_version` and `protocol_version` have different major versions.
    #[error("min_protocol_version {min} and protocol_version {max} differ in major version")]
    MixedMajor {
        /// The offered minimum.
        min: ProtocolVersion,
        /// The offered maximum.
        max: ProtocolVersion,
    },
    /// `min_protocol_version` is above `protocol_version`.
    #[error("min_protocol_version {min} is above protocol_version {max}")]
    Inverted {
        /// The offered minimum.
        min: ProtocolVersion,
        /// The offered maximum.
        max: ProtocolVersion,
    },
    /// The ranges do not overlap.
    #[error("no common protocol version: the peer speaks {peer}, we speak {ours}")]
    NoCommonVersion {
        /// What the peer offered.
        peer: VersionRange,
        /// What we speak.
        ours: VersionRange,
    },
}

impl VersionError {
    /// The protocol error to send in a `Goodbye`: `INVALID_ARGUMENT` for a malformed offer,
    /// `VERSION_UNSUPPORTED` when the ranges do not overlap.
    pub fn to_channel_error(&self) -> ChannelError {
        let (code, target) = match self {
            VersionError::Missing => (ErrorCode::InvalidArgument, "protocol_version"),
            VersionError::MixedMajor { .. } | VersionError::Inverted { .. } => {
                (ErrorCode::InvalidArgument, "min_protocol_version")
            }
            VersionError::NoCommonVersion { .. } => {
                (ErrorCode::VersionUnsupported, "protocol_version")
            }
        };
        ChannelError::new(code, self.to_string()).with_target(target)
    }
}

impl From<VersionError> for ChannelError {
    fn from(error: VersionError) -> ChannelError {
        error.to_channel_error()
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A contiguous range of minor versions of one major version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionRange {
    /// The major version.
    pub major: u32,
    /// The lowest minor version spoken.
    pub min_minor: u32,
    /// The highest minor version spoken.
    pub max_minor: u32,
}

impl fmt::Display for VersionRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{major}.{} to {major}.{}",
            self.min_minor,
            self.max_minor,
            major = self.major
        )
    }
}

impl VersionRange {
    /// Everything this crate speaks: `1.0` to `1.PROTOCOL_MINOR`.
    pub const SUPPORTED: VersionRange = VersionRange {
        major: PROTOCOL_MAJOR,
        min_minor: 0,
        max_minor: PROTOCOL_MINOR,
    };

    /// The highest version of the range, to put in a hello's `protocol_version`.
    pub fn max_version(&self) -> ProtocolVersion {
        ProtocolVersion {
            major: self.major,
            minor: self.max_minor,
        }
    }

    /// The lowest version of the range, to put in a hello's `min_protocol_version`.
    pub fn min_version(&self) -> ProtocolVersion {
        ProtocolVersion {
            major: self.major,
            minor: self.min_minor,
        }
    }

    /// The range a hello offers. `max` is required; an absent `min` means `max` only.
    /// Both must have the same major version and `min <= max`.
    pub fn offered(
        max: Option<&ProtocolVersion>,
        min: Option<&ProtocolVersion>,
    ) -> Result<VersionRange, VersionError> {
        let max = *max.ok_or(VersionError::Missing)?;
        let min = min.copied().unwrap_or(max);
        if min.major != max.major {
            return Err(VersionError::MixedMajor { min, max });
        }
        if min.minor > max.minor {
            return Err(VersionError::Inverted { min, max });
        }
        Ok(VersionRange {
            major: max.major,
            min_minor: min.minor,
            max_minor: max.minor,
        })
    }

    /// The highest version both ranges contain.
    pub fn negotiate(&self, peer: &VersionRange) -> Result<ProtocolVersion, VersionError> {
        let minor = self.max_minor.min(peer.max_minor);
        if peer.major != self.major || minor < self.min_minor || minor < peer.min_minor {
            return Err(VersionError::NoCommonVersion {
                peer: *peer,
                ours: *self,
            });
        }
        Ok(ProtocolVersion {
            major: self.major,
            minor,
        })
    }
}

/// What NSX does with a hello: the version to put in the welcome, or the error to send (as
/// [`VersionError::to_channel_error`]) in a `Goodbye` before ending the session.
pub fn negotiate_hello(
    max: Option<&ProtocolVersion>,
    min: Option<&ProtocolVersion>,
) -> Result<ProtocolVersion, VersionError> {
    VersionRange::SUPPORTED.negotiate(&VersionRange::offered(max, min)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(major: u32, minor: u32) -> ProtocolVersion {
        ProtocolVersion { major, minor }
    }

    fn range(major: u32, min_minor: u32, max_minor: u32) -> VersionRange {
        VersionRange {
            major,
            min_minor,
            max_minor,
        }
    }

    #[test]
    fn same_version_is_chosen() {
        let chosen = negotiate_hello(Some(&version(1, 0)), None).unwrap();
        assert_eq!(chosen, version(1, 0));
    }

    #[test]
    fn highest_common_minor_wins() {
        assert_eq!(
            range(1, 0, 3).negotiate(&range(1, 1, 5)).unwrap(),
            version(1, 3)
        );
        assert_eq!(
            range(1, 2, 7).negotiate(&range(1, 0, 4)).unwrap(),
            version(1, 4)
        );
    }

    #[test]
    fn newer_adapter_falls_back_to_our_minor() {
        let chosen = negotiate_hello(Some(&version(1, 9)), Some(&version(1, 0))).unwrap();
        assert_eq!(chosen, version(1, PROTOCOL_MINOR));
    }

    #[test]
    fn disjoint_ranges_are_refused() {
        let error = range(1, 0, 2).negotiate(&range(1, 3, 5)).unwrap_err();
        assert_eq!(
            error.to_channel_error().code(),
            ErrorCode::VersionUnsupported
        );
        assert_eq!(
            error.to_string(),
            "no common protocol version: the peer speaks 1.3 to 1.5, we speak 1.0 to 1.2"
        );
        let error = range(1, 4, 6).negotiate(&range(1, 0, 3)).unwrap_err();
        assert!(matches!(error, VersionError::NoCommonVersion { .. }));
    }

    #[test]
    fn other_major_is_refused() {
        let error = negotiate_hello(Some(&version(2, 0)), None).unwrap_err();
        assert_eq!(
            ChannelError::from(error).code(),
            ErrorCode::VersionUnsupported
        );
    }

    #[test]
    fn malformed_offers_are_invalid() {
        let missing = negotiate_hello(None, None).unwrap_err();
        assert_eq!(missing, VersionError::Missing);
        let mixed = negotiate_hello(Some(&version(2, 0)), Some(&version(1, 0))).unwrap_err();
        assert!(matches!(mixed, VersionError::MixedMajor { .. }));
        let inverted = negotiate_hello(Some(&version(1, 0)), Some(&version(1, 1))).unwrap_err();
        assert!(matches!(inverted, VersionError::Inverted { .. }));
        for error in [missing, mixed, inverted] {
            let channel = error.to_channel_error();
            assert_eq!(channel.code(), ErrorCode::InvalidArgument);
            assert!(!channel.target.is_empty());
        }
    }
}
