//! Whether a coded picture is an IDR picture, from its NAL units' types: a
//! decoder that starts at one needs nothing before it.
//!
//! MP4 marks other pictures as key frames too (x264's I pictures with a
//! recovery point at scene cuts), and FFmpeg's H.264 decoder, starting at
//! one of those after a seek, can drop a frame after it; so a seek steps a
//! key frame further back unless the key frame is an IDR picture
//! (`VideoReader::seek`). Anything this cannot read as NAL units says no,
//! which costs that step back, never a frame.

use ffmpeg_next::codec::Id;

/// The codecs whose IDR pictures this knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    H264,
    Hevc,
}

impl Codec {
    pub(crate) fn of(id: Id) -> Option<Self> {
        match id {
            Id::H264 => Some(Self::H264),
            Id::HEVC => Some(Self::Hevc),
            _ => None,
        }
    }

    /// Whether a NAL unit whose first byte is `header` is (a slice of) an
    /// IDR picture.
    fn is_idr(self, header: u8) -> bool {
        match self {
            // nal_unit_type 5: a coded slice of an IDR picture.
            Self::H264 => header & 0x1f == 5,
            // IDR_W_RADL (19) and IDR_N_LP (20).
            Self::Hevc => matches!((header >> 1) & 0x3f, 19 | 20),
        }
    }
}

/// Whether `packet` holds an IDR picture of `codec`: its NAL units as MP4
/// stores them (each after its length in 4 bytes, as FFmpeg's and most
/// muxers write them) or as an Annex B stream (after start codes). MP4's
/// layout is tried first: a length of 256 to 511 bytes reads as a start
/// code.
pub(crate) fn is_idr(codec: Codec, packet: &[u8]) -> bool {
    let headers = length_prefixed_headers(packet).or_else(|| annex_b_headers(packet));
    headers.is_some_and(|headers| headers.into_iter().any(|h| codec.is_idr(h)))
}

/// Each NAL unit's first byte, where `packet` is wholly NAL units after
/// 4-byte big-endian lengths; `None` where it is not.
fn length_prefixed_headers(mut packet: &[u8]) -> Option<Vec<u8>> {
    let mut headers = Vec::new();
    while !packet.is_empty() {
        let (length, rest) = packet.split_first_chunk::<4>()?;
        let length = u32::from_be_bytes(*length) as usize;
        if length == 0 || length > rest.len() {
            return None;
        }
        headers.push(rest[0]);
        packet = &rest[length..];
    }
    (!headers.is_empty()).then_some(headers)
}

/// Each NAL unit's first byte after a start code (`00 00 01`), where
/// `packet` starts with one.
fn annex_b_headers(packet: &[u8]) -> Option<Vec<u8>> {
    if !(packet.starts_with(&[0, 0, 1]) || packet.starts_with(&[0, 0, 0, 1])) {
        return None;
    }
    let headers: Vec<u8> = packet
        .windows(4)
        .filter(|w| w[..3] == [0, 0, 1])
        .map(|w| w[3])
        .collect();
    (!headers.is_empty()).then_some(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NAL units after their 4-byte lengths.
    fn prefixed(units: &[&[u8]]) -> Vec<u8> {
        units
            .iter()
            .flat_map(|u| {
                (u.len() as u32)
                    .to_be_bytes()
                    .into_iter()
                    .chain(u.iter().copied())
            })
            .collect()
    }

    #[test]
    fn an_h264_idr_slice_after_an_sei_is_found_and_other_slices_are_not() {
        let sei: &[u8] = &[0x06, 0x05, 0x01];
        let idr = prefixed(&[sei, &[0x65, 0x88, 0x84]]);
        assert!(is_idr(Codec::H264, &idr));
        // An I slice that is no IDR (type 1), as x264 writes at scene cuts
        // with a recovery point SEI, and a P slice (type 1 too).
        assert!(!is_idr(Codec::H264, &prefixed(&[sei, &[0x41, 0x9a]])));
        assert!(!is_idr(Codec::H264, &prefixed(&[&[0x21, 0x9a]])));
        // The same units after start codes.
        assert!(is_idr(
            Codec::H264,
            &[0, 0, 0, 1, 0x06, 0x05, 0, 0, 1, 0x65, 0x88]
        ));
        assert!(!is_idr(Codec::H264, &[0, 0, 1, 0x41, 0x9a]));
    }

    #[test]
    fn hevc_idr_pictures_are_found_and_a_cra_is_not() {
        // nal_unit_type in bits 1..7 of the first byte.
        let unit = |kind: u8| vec![kind << 1, 0x01, 0xaf];
        assert!(is_idr(Codec::Hevc, &prefixed(&[&unit(19)])));
        assert!(is_idr(Codec::Hevc, &prefixed(&[&unit(39), &unit(20)])));
        assert!(!is_idr(Codec::Hevc, &prefixed(&[&unit(21)])));
        assert!(!is_idr(Codec::Hevc, &prefixed(&[&unit(1)])));
    }

    #[test]
    fn what_is_not_wholly_nal_units_says_no() {
        let idr = prefixed(&[&[0x65, 0x88]]);
        // Cut short, a length past the end, a zero length, nothing at all.
        assert!(!is_idr(Codec::H264, &idr[..idr.len() - 1]));
        assert!(!is_idr(Codec::H264, &[0, 0, 0, 9, 0x65, 0x88]));
        assert!(!is_idr(Codec::H264, &[0, 0, 0, 0, 0, 0, 0, 2, 0x65, 0x88]));
        assert!(!is_idr(Codec::H264, &[]));
        // A P slice of 261 bytes: its length reads as a start code and a
        // type-5 header, but the packet is wholly length-prefixed.
        let mut p_slice = vec![0x41; 261];
        p_slice[1] = 0x9a;
        let packet = prefixed(&[&p_slice]);
        assert_eq!(&packet[..4], &[0, 0, 1, 5]);
        assert!(!is_idr(Codec::H264, &packet));
        assert_eq!(Codec::of(Id::MPEG4), None);
    }
}
