//! Scene rendering bench (being written).

fn main() {}
