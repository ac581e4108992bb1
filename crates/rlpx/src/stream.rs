//! An established RLPx connection carrying raw messages: [`RlpxStream`], and its halves
//! [`RlpxReader`] and [`RlpxWriter`] for one task reading while another writes.
//!
//! A message is one frame whose data is `rlp(msg-id) || payload`; once snappy is enabled
//! (p2p version 5, after Hello) the payload is snappy-compressed (block format).

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::{debug, instrument, trace};

use crate::error::{Error, Result};
use crate::frame::{self, Egress, Ingress, HEADER_BYTES, MAC_BYTES};
use crate::handshake;
use crate::node_key::{NodeId, NodeKey};

/// The largest frame we accept by default: the 24-bit size field's maximum, 16 MiB - 1.
/// Callers lower it with [`RlpxReader::set_max_frame_bytes`]; the header is refused
/// before the body is read or its buffer allocated.
pub const MAX_FRAME_BYTES: usize = (1 << 24) - 1;

/// The largest message payload we accept after decompression, 16 MiB: go-ethereum's bound
/// too (no eth or snap message comes near it); checked on the declared length before
/// decompressing, so a small frame cannot expand into unbounded memory.
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// Buffers larger than this are released after a frame, so one big message does not pin
/// its memory for the life of the connection.
const KEEP_BUFFER_BYTES: usize = 256 << 10;

/// The reading half of an RLPx connection: the ingress cipher and MAC.
///
/// [`recv`](Self::recv) is cancel-safe: every byte read and every step of the MAC is kept
/// in `self`, so it can sit in a `tokio::select!` next to timers.
pub struct RlpxReader {
    /// The transport's read side.
    io: Box<dyn AsyncRead + Send + Sync + Unpin>,
    /// Ingress cipher and MAC.
    ingress: Ingress,
    /// Bytes read and not yet consumed (at most a frame plus one read's worth).
    buf: Vec<u8>,
    /// The size of the frame whose header was opened and whose body is awaited.
    pending_body: Option<usize>,
    /// Whether payloads are snappy-compressed.
    snappy: bool,
    /// The largest frame accepted.
    max_frame_bytes: usize,
    /// The largest (decompressed) payload accepted.
    max_message_bytes: usize,
    /// The remote, for logs.
    remote: NodeId,
}

/// The writing half of an RLPx connection: the egress cipher and MAC.
pub struct RlpxWriter {
    /// The transport's write side.
    io: Box<dyn AsyncWrite + Send + Sync + Unpin>,
    /// Egress cipher and MAC.
    egress: Egress,
    /// Reused output buffer.
    buf: Vec<u8>,
    /// Whether payloads are snappy-compressed.
    snappy: bool,
    /// The largest payload we send: the same bound we ask of the remote.
    max_message_bytes: usize,
    /// Set while a frame is being written: a send cancelled then leaves the stream out of
    /// step, and every later send fails with [`Error::WriterPoisoned`].
    writing: bool,
}

/// An RLPx connection after the handshake, sending and receiving raw messages.
pub struct RlpxStream {
    reader: RlpxReader,
    writer: RlpxWriter,
}

impl RlpxStream {
    /// Dials: runs the handshake as initiator with the node `remote` over `io`.
    #[instrument(skip_all, fields(%remote))]
    pub async fn connect<IO>(mut io: IO, key: &NodeKey, remote: NodeId) -> Result<Self>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static,
    {
        let secrets = handshake::initiate(&mut io, key, remote).await?;
        Ok(Self::new(io, secrets))
    }

    /// Accepts: runs the handshake as recipient over `io`; the remote's identity is then
    /// [`remote_id`](Self::remote_id).
    #[instrument(skip_all)]
    pub async fn accept<IO>(mut io: IO, key: &NodeKey) -> Result<Self>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static,
    {
        let secrets = handshake::respond(&mut io, key).await?;
        Ok(Self::new(io, secrets))
    }

    fn new<IO>(io: IO, secrets: handshake::Secrets) -> Self
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static,
    {
        let remote = secrets.remote;
        let (ingress, egress) = frame::split(secrets);
        let (read, write) = tokio::io::split(io);
        debug!(target: "rlpx::stream", %remote, "handshake done");
        RlpxStream {
            reader: RlpxReader {
                io: Box::new(read),
                ingress,
                buf: Vec::new(),
                pending_body: None,
                snappy: false,
                max_frame_bytes: MAX_FRAME_BYTES,
                max_message_bytes: MAX_MESSAGE_BYTES,
                remote,
            },
            writer: RlpxWriter {
                io: Box::new(write),
                egress,
                buf: Vec::new(),
                snappy: false,
                max_message_bytes: MAX_MESSAGE_BYTES,
                writing: false,
            },
        }
    }

    /// The remote's node id, proven by the handshake.
    pub fn remote_id(&self) -> NodeId {
        self.reader.remote
    }

    /// Turns snappy compression of payloads on or off, both directions.
    pub fn set_snappy(&mut self, snappy: bool) {
        self.reader.snappy = snappy;
        self.writer.snappy = snappy;
    }

    /// Sends one message.
    pub async fn send(&mut self, msg_id: u64, payload: &[u8]) -> Result<()> {
        self.writer.send(msg_id, payload).await
    }

    /// Receives one message: its id and (decompressed) payload.
    pub async fn recv(&mut self) -> Result<(u64, Vec<u8>)> {
        self.reader.recv().await
    }

    /// The reading half, e.g. to change its limits.
    pub fn reader_mut(&mut self) -> &mut RlpxReader {
        &mut self.reader
    }

    /// The writing half, e.g. to change its limits.
    pub fn writer_mut(&mut self) -> &mut RlpxWriter {
        &mut self.writer
    }

    /// Splits into halves that can be used from different tasks.
    pub fn into_split(self) -> (RlpxReader, RlpxWriter) {
        (self.reader, self.writer)
    }
}

impl RlpxReader {
    /// The remote's node id, proven by the handshake.
    pub fn remote_id(&self) -> NodeId {
        self.remote
    }

    /// Turns snappy decompression of received payloads on or off.
    pub fn set_snappy(&mut self, snappy: bool) {
        self.snappy = snappy;
    }

    /// Lowers (or restores, up to [`MAX_FRAME_BYTES`]) the largest frame accepted.
    pub fn set_max_frame_bytes(&mut self, max: usize) {
        self.max_frame_bytes = max.min(MAX_FRAME_BYTES);
    }

    /// Sets the largest decompressed payload accepted.
    pub fn set_max_message_bytes(&mut self, max: usize) {
        self.max_message_bytes = max;
    }

    /// Receives one message: its id and (decompressed) payload. Cancel-safe.
    pub async fn recv(&mut self) -> Result<(u64, Vec<u8>)> {
        let frame = self.recv_frame().await?;
        let (msg_id, payload) = split_msg_id(&frame)?;
        let payload = if self.snappy {
            // Check the declared length before allocating or decompressing anything.
            let size = snap::raw::decompress_len(payload).map_err(|source| Error::Snappy { source })?;
            if size > self.max_message_bytes {
                return Err(Error::MessageTooLarge { size, max: self.max_message_bytes });
            }
            snap::raw::Decoder::new().decompress_vec(payload).map_err(|source| Error::Snappy { source })?
        } else {
            if payload.len() > self.max_message_bytes {
                return Err(Error::MessageTooLarge { size: payload.len(), max: self.max_message_bytes });
            }
            payload.to_vec()
        };
        trace!(target: "rlpx::stream", remote = %self.remote, msg_id, len = payload.len(), "received");
        Ok((msg_id, payload))
    }

    /// Reads and opens one frame, returning its data (without padding).
    async fn recv_frame(&mut self) -> Result<Vec<u8>> {
        loop {
            match self.pending_body {
                None => {
                    self.fill(HEADER_BYTES, "frame").await?;
                    let header: [u8; HEADER_BYTES] = self.buf[..HEADER_BYTES].try_into().expect("filled");
                    let size = self.ingress.open_header(&header)?;
                    self.buf.drain(..HEADER_BYTES);
                    if size > self.max_frame_bytes {
                        return Err(Error::FrameTooLarge { size, max: self.max_frame_bytes });
                    }
                    self.pending_body = Some(size);
                }
                Some(size) => {
                    let body_len = frame::padded(size);
                    self.fill(body_len + MAC_BYTES, "frame").await?;
                    let (body, rest) = self.buf.split_at_mut(body_len);
                    self.ingress.open_body(body, &rest[..MAC_BYTES])?;
                    let data = body[..size].to_vec();
                    self.buf.drain(..body_len + MAC_BYTES);
                    self.pending_body = None;
                    if self.buf.capacity() > KEEP_BUFFER_BYTES && self.buf.len() < KEEP_BUFFER_BYTES {
                        self.buf.shrink_to(KEEP_BUFFER_BYTES);
                    }
                    return Ok(data);
                }
            }
        }
    }

    /// Reads until `buf` holds at least `need` bytes. Cancel-safe: `read_buf` either reads
    /// into `buf` or, cancelled, reads nothing.
    async fn fill(&mut self, need: usize, during: &'static str) -> Result<()> {
        while self.buf.len() < need {
            self.buf.reserve(need - self.buf.len());
            let n = self.io.read_buf(&mut self.buf).await?;
            if n == 0 {
                return Err(if self.buf.is_empty() && self.pending_body.is_none() {
                    Error::Closed
                } else {
                    // `needed`/`got` count the part being read: the header, or the body.
                    Error::Truncated { during, needed: need, got: self.buf.len() }
                });
            }
        }
        Ok(())
    }
}

impl RlpxWriter {
    /// Turns snappy compression of sent payloads on or off.
    pub fn set_snappy(&mut self, snappy: bool) {
        self.snappy = snappy;
    }

    /// Sets the largest payload we send (before compression).
    pub fn set_max_message_bytes(&mut self, max: usize) {
        self.max_message_bytes = max;
    }

    /// Sends one message. Not cancel-safe: cancelled mid-write, the writer is poisoned.
    pub async fn send(&mut self, msg_id: u64, payload: &[u8]) -> Result<()> {
        if self.writing {
            return Err(Error::WriterPoisoned);
        }
        if payload.len() > self.max_message_bytes {
            return Err(Error::MessageTooLarge { size: payload.len(), max: self.max_message_bytes });
        }
        let mut data = Vec::with_capacity(9 + payload.len());
        append_msg_id(msg_id, &mut data);
        if self.snappy {
            let compressed =
                snap::raw::Encoder::new().compress_vec(payload).map_err(|source| Error::Snappy { source })?;
            data.extend_from_slice(&compressed);
        } else {
            data.extend_from_slice(payload);
        }
        if data.len() > MAX_FRAME_BYTES {
            return Err(Error::MessageTooLarge { size: data.len(), max: MAX_FRAME_BYTES });
        }
        self.buf.clear();
        self.egress.seal(&data, &mut self.buf);
        self.writing = true;
        self.io.write_all(&self.buf).await?;
        self.io.flush().await?;
        self.writing = false;
        if self.buf.capacity() > KEEP_BUFFER_BYTES {
            self.buf = Vec::new();
        }
        trace!(target: "rlpx::stream", msg_id, len = payload.len(), "sent");
        Ok(())
    }

    /// Shuts the write side down (a TCP FIN), after which the remote reads a close.
    pub async fn shutdown(&mut self) -> Result<()> {
        self.io.shutdown().await?;
        Ok(())
    }
}

/// Appends `id` as an RLP unsigned integer.
fn append_msg_id(id: u64, out: &mut Vec<u8>) {
    match id {
        0 => out.push(0x80),
        1..=0x7f => out.push(id as u8),
        _ => {
            let bytes = id.to_be_bytes();
            let skip = (id.leading_zeros() / 8) as usize;
            out.push(0x80 + (8 - skip) as u8);
            out.extend_from_slice(&bytes[skip..]);
        }
    }
}

/// Splits frame data into its canonical RLP unsigned-integer message id and the rest.
pub(crate) fn split_msg_id(data: &[u8]) -> Result<(u64, &[u8])> {
    let (&first, rest) = data.split_first().ok_or(Error::InvalidMessageId)?;
    match first {
        0x01..=0x7f => Ok((first as u64, rest)),
        0x80 => Ok((0, rest)),
        0x81..=0x88 => {
            let len = (first - 0x80) as usize;
            if rest.len() < len {
                return Err(Error::InvalidMessageId);
            }
            let (bytes, rest) = rest.split_at(len);
            // Canonical: no leading zero, and single bytes below 0x80 are their own encoding.
            if bytes[0] == 0 || (len == 1 && bytes[0] < 0x80) {
                return Err(Error::InvalidMessageId);
            }
            let id = bytes.iter().fold(0u64, |acc, b| (acc << 8) | *b as u64);
            Ok((id, rest))
        }
        _ => Err(Error::InvalidMessageId),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msg_id_round_trips_and_matches_rlp() {
        for id in [0u64, 1, 0x10, 0x7f, 0x80, 0xff, 0x100, 0x1234_5678, u64::MAX] {
            let mut out = Vec::new();
            append_msg_id(id, &mut out);
            assert_eq!(out, rlp::encode(&id).to_vec(), "{id}");
            out.extend_from_slice(b"rest");
            assert_eq!(split_msg_id(&out).unwrap(), (id, &b"rest"[..]));
        }
    }

    #[test]
    fn non_canonical_msg_ids_are_refused() {
        for bad in [
            &[][..],
            // The byte string [0]: zero is 0x80 (found by the rlpx_message fuzz target).
            &[0x00][..],
            &[0x81, 0x05][..],
            &[0x82, 0x00, 0x80][..],
            &[0x82, 0x01][..],
            &[0x89, 1, 1, 1, 1, 1, 1, 1, 1, 1][..],
            &[0xc0][..],
        ] {
            assert!(matches!(split_msg_id(bad), Err(Error::InvalidMessageId)), "{bad:?}");
        }
    }
}
