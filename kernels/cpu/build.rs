//! Marks the tests that run ffmpeg or espeak-ng as ignored where the tool is
//! missing (not when `CI` is set): see `kino-tool-probe`.

fn main() {
    kino_tool_probe::probe(&[kino_tool_probe::FFMPEG, kino_tool_probe::ESPEAK_NG]);
}
