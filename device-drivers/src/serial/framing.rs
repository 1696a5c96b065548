//! Framing codecs: bytes in, frames out, as a plain state machine with bounded memory.
//!
//! A frame longer than the maximum is dropped and reported once ([`Decoded::Oversize`]); the decoder
//! then skips input until the next delimiter, so its buffer never holds more than the maximum frame
//! plus a delimiter.

use std::collections::VecDeque;

use crate::error::{DeviceError, ErrorCode};

/// Default largest frame, in bytes.
pub const DEFAULT_MAX_FRAME: usize = 4096;

/// Which byte sequence ends a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LineEnding {
    /// `\n` ends a line; a `\r` right before it is removed too, so `\r\n` devices also work.
    #[default]
    Lf,
    /// Only `\r\n` ends a line (a lone `\n` stays in the frame).
    CrLf,
}

/// How the byte stream is cut into frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    /// Whatever each read returned, in chunks of at most the maximum frame size.
    Raw,
    /// Text lines; the line ending is removed.
    Lines(LineEnding),
    /// Frames ended by a custom byte sequence (removed from the frame).
    Delimiter(Vec<u8>),
    /// Frames of exactly this many bytes.
    FixedLength(usize),
}

impl Default for Framing {
    fn default() -> Self {
        Framing::Lines(LineEnding::Lf)
    }
}

/// What the decoder produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A complete frame (without its delimiter).
    Frame(Vec<u8>),
    /// A frame grew past `max` bytes: it was dropped; input is skipped up to the next delimiter.
    Oversize {
        /// The configured maximum.
        max: usize,
    },
}

/// A framing decoder.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    framing: Framing,
    max: usize,
    buf: Vec<u8>,
    discarding: bool,
    /// While discarding: the last few bytes seen, to find a delimiter split across reads.
    tail: VecDeque<u8>,
}

impl FrameDecoder {
    /// A decoder for `framing` with frames of at most `max_frame` bytes (EINVAL for an empty
    /// delimiter, a zero maximum, or a fixed length of zero or over the maximum).
    pub fn new(framing: Framing, max_frame: usize) -> Result<Self, DeviceError> {
        let bad = |m: String| Err(DeviceError::new(ErrorCode::Einval, m));
        if max_frame == 0 {
            return bad("maximum frame size must be at least 1 byte".into());
        }
        match &framing {
            Framing::Delimiter(d) if d.is_empty() => {
                return bad("the frame delimiter must not be empty".into())
            }
            Framing::FixedLength(n) if *n == 0 || *n > max_frame => {
                return bad(format!(
                "fixed frame length {n} must be between 1 and the maximum frame size {max_frame}"
            ))
            }
            _ => {}
        }
        Ok(Self {
            framing,
            max: max_frame,
            buf: Vec::new(),
            discarding: false,
            tail: VecDeque::new(),
        })
    }

    /// The framing in use.
    pub fn framing(&self) -> &Framing {
        &self.framing
    }

    /// Bytes held for an incomplete frame (never more than the maximum plus a delimiter).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Forget any partial frame (after a reconnect the old bytes belong to nothing).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.tail.clear();
        self.discarding = false;
    }

    /// Feed bytes; complete frames and oversize reports are appended to `out`.
    pub fn push(&mut self, data: &[u8], out: &mut Vec<Decoded>) {
        match &self.framing {
            Framing::Raw => {
                out.extend(data.chunks(self.max).map(|c| Decoded::Frame(c.to_vec())));
            }
            Framing::FixedLength(n) => {
                let n = *n;
                for &b in data {
                    self.buf.push(b);
                    if self.buf.len() == n {
                        out.push(Decoded::Frame(std::mem::take(&mut self.buf)));
                    }
                }
            }
            Framing::Lines(LineEnding::Lf) => self.push_delimited(data, out, b"\n", true),
            Framing::Lines(LineEnding::CrLf) => self.push_delimited(data, out, b"\r\n", false),
            Framing::Delimiter(d) => {
                let d = d.clone();
                self.push_delimited(data, out, &d, false);
            }
        }
    }

    fn push_delimited(
        &mut self,
        data: &[u8],
        out: &mut Vec<Decoded>,
        delim: &[u8],
        strip_cr: bool,
    ) {
        let dl = delim.len();
        // Longest buffer that may still become a frame of at most `max` bytes: the content, a
        // partial delimiter, and (Lf lines) a `\r` that will be stripped.
        let limit = self.max + dl - 1 + usize::from(strip_cr);
        for &b in data {
            if self.discarding {
                self.tail.push_back(b);
                if self.tail.len() > dl {
                    self.tail.pop_front();
                }
                if self.tail.iter().eq(delim.iter()) {
                    self.discarding = false;
                    self.tail.clear();
                }
                continue;
            }
            self.buf.push(b);
            if self.buf.ends_with(delim) {
                let mut frame = std::mem::take(&mut self.buf);
                frame.truncate(frame.len() - dl);
                if strip_cr && frame.last() == Some(&b'\r') {
                    frame.pop();
                }
                if frame.len() > self.max {
                    out.push(Decoded::Oversize { max: self.max });
                } else {
                    out.push(Decoded::Frame(frame));
                }
            } else if self.buf.len() > limit {
                out.push(Decoded::Oversize { max: self.max });
                self.discarding = true;
                self.tail.clear();
                let keep = self.buf.len().saturating_sub(dl - 1);
                self.tail.extend(&self.buf[keep..]);
                self.buf.clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(framing: Framing, max: usize, chunks: &[&[u8]]) -> Vec<Decoded> {
        let mut d = FrameDecoder::new(framing, max).expect("valid");
        let mut out = Vec::new();
        for c in chunks {
            d.push(c, &mut out);
            assert!(d.buffered() <= max + 8, "buffer grew to {}", d.buffered());
        }
        out
    }

    fn frame(s: &[u8]) -> Decoded {
        Decoded::Frame(s.to_vec())
    }

    #[test]
    fn lf_lines_split_across_reads_and_strip_cr() {
        let out = decode(
            Framing::Lines(LineEnding::Lf),
            64,
            &[b"$GPGGA,1", b"23\r", b"\n$GPRMC\n", b"\n"],
        );
        assert_eq!(
            out,
            vec![frame(b"$GPGGA,123"), frame(b"$GPRMC"), frame(b"")]
        );
    }

    #[test]
    fn crlf_lines_keep_lone_lf() {
        let out = decode(
            Framing::Lines(LineEnding::CrLf),
            64,
            &[b"a\nb\r", b"\nc\r\n"],
        );
        assert_eq!(out, vec![frame(b"a\nb"), frame(b"c")]);
    }

    #[test]
    fn custom_delimiter_split_across_reads() {
        let out = decode(
            Framing::Delimiter(b"<END>".to_vec()),
            64,
            &[b"one<EN", b"D>two<", b"END><END>"],
        );
        assert_eq!(out, vec![frame(b"one"), frame(b"two"), frame(b"")]);
    }

    #[test]
    fn fixed_length_frames() {
        let out = decode(Framing::FixedLength(3), 8, &[b"abcd", b"ef", b"g"]);
        assert_eq!(out, vec![frame(b"abc"), frame(b"def")]);
    }

    #[test]
    fn raw_chunks_are_capped_at_the_maximum() {
        let out = decode(Framing::Raw, 4, &[b"0123456789"]);
        assert_eq!(out, vec![frame(b"0123"), frame(b"4567"), frame(b"89")]);
    }

    #[test]
    fn over_long_line_is_dropped_once_and_the_next_line_survives() {
        let mut garbage = vec![b'x'; 1000];
        garbage.extend_from_slice(b"\r\nok\n");
        let out = decode(
            Framing::Lines(LineEnding::Lf),
            8,
            &[&garbage[..500], &garbage[500..]],
        );
        assert_eq!(out, vec![Decoded::Oversize { max: 8 }, frame(b"ok")]);
    }

    #[test]
    fn frame_of_exactly_max_passes_including_a_stripped_cr() {
        let out = decode(
            Framing::Lines(LineEnding::Lf),
            4,
            &[b"abcd\r\n", b"abcde\n"],
        );
        assert_eq!(out, vec![frame(b"abcd"), Decoded::Oversize { max: 4 }]);
    }

    #[test]
    fn delimiter_split_while_discarding_is_found() {
        let out = decode(
            Framing::Delimiter(b"##".to_vec()),
            3,
            &[b"abcdef#", b"#ok##"],
        );
        assert_eq!(out, vec![Decoded::Oversize { max: 3 }, frame(b"ok")]);
    }

    #[test]
    fn bad_configs_are_einval() {
        for (f, max) in [
            (Framing::Delimiter(vec![]), 10),
            (Framing::FixedLength(0), 10),
            (Framing::FixedLength(11), 10),
            (Framing::Raw, 0),
        ] {
            let e = FrameDecoder::new(f.clone(), max).expect_err("invalid");
            assert_eq!(e.code, ErrorCode::Einval, "{f:?}");
        }
    }

    #[test]
    fn reset_drops_a_partial_frame() {
        let mut d = FrameDecoder::new(Framing::default(), 16).expect("valid");
        let mut out = Vec::new();
        d.push(b"half", &mut out);
        d.reset();
        d.push(b"line\n", &mut out);
        assert_eq!(out, vec![frame(b"line")]);
    }
}
