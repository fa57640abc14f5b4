//! `/livez`, `/readyz` and `/metrics` on each adapter's API port.
