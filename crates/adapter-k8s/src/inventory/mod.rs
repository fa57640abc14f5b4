//! The MP adapter's watches of the inventory kinds.
