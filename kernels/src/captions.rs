//! Caption cues.
