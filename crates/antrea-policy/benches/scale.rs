//! Scale benchmark (written later).
fn main() {}
