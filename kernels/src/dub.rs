//! Dub.
