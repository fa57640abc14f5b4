//! Errors as data: builders for [`ChannelError`], and its mapping to and from a gRPC
//! [`tonic::Status`] for the rare case where a session ends with an RPC error rather than a
//! `Goodbye` (the `ChannelError` then travels in the status details, so nothing is lost).

use std::fmt;
use std::time::Duration;

use prost::Message as _;

use crate::v1::{ChannelError, ErrorCode};

impl ChannelError {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ChannelError {
            code: code.into(),
            message: message.into(),
            ..ChannelError::default()
        }
    }

    /// Names what the error is about (an NSX path, a field path, a node UID).
    #[must_use]
    pub fn with_target(mut self, target: impl Into<String>) -> Self {
        self.target = target.into();
        self
    }

    /// Adds further details.
    #[must_use]
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = details.into();
        self
    }

    /// Marks the error retryable, optionally no sooner than `after`.
    #[must_use]
    pub fn retryable(mut self, after: Option<Duration>) -> Self {
        self.retryable = true;
        self.retry_after = after.and_then(|after| prost_types::Duration::try_from(after).ok());
        self
    }

    /// Adds a related error.
    #[must_use]
    pub fn with_related(mut self, related: ChannelError) -> Self {
        self.related.push(related);
        self
    }

    /// The gRPC status code closest to this error's code.
    pub fn grpc_code(&self) -> tonic::Code {
        match self.code() {
            ErrorCode::Unspecified => tonic::Code::Unknown,
            ErrorCode::InvalidArgument | ErrorCode::ProtocolViolation => {
                tonic::Code::InvalidArgument
            }
            ErrorCode::NotFound => tonic::Code::NotFound,
            ErrorCode::Unsupported => tonic::Code::Unimplemented,
            ErrorCode::FailedPrecondition | ErrorCode::VersionUnsupported => {
                tonic::Code::FailedPrecondition
            }
            ErrorCode::PermissionDenied => tonic::Code::PermissionDenied,
            ErrorCode::ResourceExhausted => tonic::Code::ResourceExhausted,
            ErrorCode::DeadlineExceeded => tonic::Code::DeadlineExceeded,
            ErrorCode::Cancelled => tonic::Code::Cancelled,
            ErrorCode::Unavailable | ErrorCode::ShuttingDown => tonic::Code::Unavailable,
            ErrorCode::Internal => tonic::Code::Internal,
            ErrorCode::SessionReplaced => tonic::Code::Aborted,
        }
    }

    /// A gRPC status carrying this error: the closest code, the message, and the encoded
    /// `ChannelError` as the status details.
    pub fn to_status(&self) -> tonic::Status {
        tonic::Status::with_details(
            self.grpc_code(),
            self.message.clone(),
            self.encode_to_vec().into(),
        )
    }

    /// The `ChannelError` a status carries in its details; for a status from elsewhere
    /// (transport errors, a peer that did not follow this protocol), one built from the
    /// status code and message.
    pub fn from_status(status: &tonic::Status) -> ChannelError {
        if !status.details().is_empty()
            && let Ok(error) = ChannelError::decode(status.details())
            && error.code != 0
        {
            return error;
        }
        let code = match status.code() {
            tonic::Code::Ok | tonic::Code::Unknown => ErrorCode::Unspecified,
            tonic::Code::InvalidArgument | tonic::Code::OutOfRange => ErrorCode::InvalidArgument,
            tonic::Code::NotFound => ErrorCode::NotFound,
            tonic::Code::Unimplemented => ErrorCode::Unsupported,
            tonic::Code::FailedPrecondition | tonic::Code::AlreadyExists => {
                ErrorCode::FailedPrecondition
            }
            tonic::Code::PermissionDenied | tonic::Code::Unauthenticated => {
                ErrorCode::PermissionDenied
            }
            tonic::Code::ResourceExhausted => ErrorCode::ResourceExhausted,
            tonic::Code::DeadlineExceeded => ErrorCode::DeadlineExceeded,
            tonic::Code::Cancelled => ErrorCode::Cancelled,
            tonic::Code::Unavailable => ErrorCode::Unavailable,
            tonic::Code::Aborted => ErrorCode::SessionReplaced,
            tonic::Code::Internal | tonic::Code::DataLoss => ErrorCode::Internal,
        };
        let retryable = matches!(
            status.code(),
            tonic::Code::Unavailable | tonic::Code::ResourceExhausted | tonic::Code::Aborted
        );
        ChannelError {
            code: code.into(),
            message: status.message().to_owned(),
            retryable,
            ..ChannelError::default()
        }
    }
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code().as_str_name(), self.message)?;
        if !self.target.is_empty() {
            write!(f, " (target {})", self.target)?;
        }
        if !self.details.is_empty() {
            write!(f, ": {}", self.details)?;
        }
        Ok(())
    }
}

impl std::error::Error for ChannelError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_fill_fields() {
        let error = ChannelError::new(ErrorCode::Unavailable, "antrea-controller unreachable")
            .with_target("antrea-controller")
            .with_details("connection refused")
            .retryable(Some(Duration::from_secs(5)))
            .with_related(ChannelError::new(ErrorCode::Internal, "inner"));
        assert_eq!(error.code(), ErrorCode::Unavailable);
        assert!(error.retryable);
        assert_eq!(error.retry_after.unwrap().seconds, 5);
        assert_eq!(error.related.len(), 1);
        assert_eq!(
            error.to_string(),
            "ERROR_CODE_UNAVAILABLE: antrea-controller unreachable (target antrea-controller): connection refused"
        );
    }

    #[test]
    fn status_round_trip_keeps_the_whole_error() {
        let error = ChannelError::new(ErrorCode::SessionReplaced, "a newer session took over")
            .with_target("cluster-1");
        let status = error.to_status();
        assert_eq!(status.code(), tonic::Code::Aborted);
        assert_eq!(ChannelError::from_status(&status), error);
    }

    #[test]
    fn foreign_status_maps_by_code() {
        let status = tonic::Status::unavailable("connection reset");
        let error = ChannelError::from_status(&status);
        assert_eq!(error.code(), ErrorCode::Unavailable);
        assert_eq!(error.message, "connection reset");
        assert!(error.retryable);
        let garbage = tonic::Status::with_details(
            tonic::Code::PermissionDenied,
            "denied",
            vec![0xff, 0xff, 0xff].into(),
        );
        assert_eq!(
            ChannelError::from_status(&garbage).code(),
            ErrorCode::PermissionDenied
        );
    }

    #[test]
    fn every_code_maps_to_a_status_and_back_to_itself() {
        let codes: Vec<ErrorCode> = (1..)
            .map_while(|value| ErrorCode::try_from(value).ok())
            .collect();
        assert_eq!(codes.len(), 14);
        for code in codes {
            let error = ChannelError::new(code, "x");
            assert_eq!(ChannelError::from_status(&error.to_status()).code(), code);
        }
    }
}
