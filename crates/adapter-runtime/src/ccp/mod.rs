//! The CCP adapter process: NSX desired state → translation → plan → apply → realization.
