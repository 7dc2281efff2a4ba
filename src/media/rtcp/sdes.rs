//! Source Description, RTCP packet type 202 (RFC 3550 §6.5); we read and write CNAME only.

use super::{write_header, RtcpError, HEADER_LEN, MAX_COUNT, PT_SDES};

/// SDES item type of CNAME, the canonical end-point identifier (RFC 3550 §6.5.1).
pub const SDES_CNAME: u8 = 1;

/// SDES item type that ends a chunk's item list (RFC 3550 §6.5).
const SDES_END: u8 = 0;

/// One SDES chunk: a source and its CNAME, if the chunk carried one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SdesChunk {
    /// SSRC or CSRC the items describe.
    pub ssrc: u32,
    /// CNAME item (RFC 3550 §6.5.1), decoded as UTF-8 with invalid sequences replaced.
    pub cname: Option<String>,
}

/// A Source Description packet: one chunk per source.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceDescription {
    /// The chunks, at most 31.
    pub chunks: Vec<SdesChunk>,
}

/// Octets of a chunk holding one CNAME item, padded to 32 bits with at least one null octet.
fn cname_chunk_len(cname: &str) -> usize {
    (4 + 2 + cname.len() + 1).div_ceil(4) * 4
}

impl SourceDescription {
    /// Octets this packet takes on the wire, header included.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN
            + self
                .chunks
                .iter()
                .map(|c| cname_chunk_len(c.cname.as_deref().unwrap_or("")))
                .sum::<usize>()
    }

    /// Writes the packet into `out`; returns its length.
    pub fn write_to(&self, out: &mut [u8]) -> Result<usize, RtcpError> {
        let count = self.chunks.len();
        if count > MAX_COUNT {
            return Err(RtcpError::TooManyItems { count });
        }
        let len = self.encoded_len();
        let available = out.len();
        let out = out.get_mut(..len).ok_or(RtcpError::BufferTooSmall {
            needed: len,
            available,
        })?;
        write_header(out, count as u8, PT_SDES, len);
        let mut offset = HEADER_LEN;
        for chunk in &self.chunks {
            offset += write_chunk(
                chunk.ssrc,
                chunk.cname.as_deref().unwrap_or(""),
                &mut out[offset..],
            )?;
        }
        Ok(len)
    }

    /// Writes an SDES packet with one chunk carrying `cname` for `ssrc`, without allocating.
    pub fn write_cname(ssrc: u32, cname: &str, out: &mut [u8]) -> Result<usize, RtcpError> {
        let len = HEADER_LEN + cname_chunk_len(cname);
        let available = out.len();
        let out = out.get_mut(..len).ok_or(RtcpError::BufferTooSmall {
            needed: len,
            available,
        })?;
        write_header(out, 1, PT_SDES, len);
        write_chunk(ssrc, cname, &mut out[HEADER_LEN..])?;
        Ok(len)
    }

    /// Parses the body (after the common header) of an SDES packet with `count` chunks.
    pub fn parse(count: u8, body: &[u8]) -> Result<Self, RtcpError> {
        let mut chunks = Vec::with_capacity(count as usize);
        let mut offset = 0;
        for _ in 0..count {
            let ssrc_bytes = body.get(offset..offset + 4).ok_or(RtcpError::Truncated {
                needed: offset + 4,
                len: body.len(),
            })?;
            let ssrc =
                u32::from_be_bytes([ssrc_bytes[0], ssrc_bytes[1], ssrc_bytes[2], ssrc_bytes[3]]);
            offset += 4;
            let mut cname = None;
            loop {
                let kind = *body.get(offset).ok_or(RtcpError::Truncated {
                    needed: offset + 1,
                    len: body.len(),
                })?;
                if kind == SDES_END {
                    // The null octet(s) run to the next 32-bit boundary.
                    offset = (offset + 1).div_ceil(4) * 4;
                    break;
                }
                let item_len = *body.get(offset + 1).ok_or(RtcpError::Truncated {
                    needed: offset + 2,
                    len: body.len(),
                })? as usize;
                let text =
                    body.get(offset + 2..offset + 2 + item_len)
                        .ok_or(RtcpError::Truncated {
                            needed: offset + 2 + item_len,
                            len: body.len(),
                        })?;
                if kind == SDES_CNAME {
                    cname = Some(String::from_utf8_lossy(text).into_owned());
                }
                offset += 2 + item_len;
            }
            if offset > body.len() {
                return Err(RtcpError::Truncated {
                    needed: offset,
                    len: body.len(),
                });
            }
            chunks.push(SdesChunk { ssrc, cname });
        }
        Ok(Self { chunks })
    }
}

/// Writes one chunk with a CNAME item (or no item for an empty name) and its null padding.
fn write_chunk(ssrc: u32, cname: &str, out: &mut [u8]) -> Result<usize, RtcpError> {
    if cname.len() > 255 {
        return Err(RtcpError::ItemTooLong { len: cname.len() });
    }
    let len = cname_chunk_len(cname);
    let available = out.len();
    let out = out.get_mut(..len).ok_or(RtcpError::BufferTooSmall {
        needed: len,
        available,
    })?;
    out.fill(0);
    out[0..4].copy_from_slice(&ssrc.to_be_bytes());
    if !cname.is_empty() {
        out[4] = SDES_CNAME;
        out[5] = cname.len() as u8;
        out[6..6 + cname.len()].copy_from_slice(cname.as_bytes());
    }
    Ok(len)
}
