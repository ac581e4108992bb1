//! Framing: every message travels as a 4-byte big-endian payload length, then the payload.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::{Message, WireError};

/// Longest frame payload sent or accepted: the wire spec's absolute ceiling.
///
/// A frame longer than this is a protocol breach, detected from the 4-byte header alone: the reader
/// fails without reading or allocating the body, so a peer cannot make us buffer gigabytes by lying
/// about a length. Readers apply a tighter cap where the protocol allows one: a server reads requests,
/// and both sides read the handshake, with [`MAX_REQUEST_FRAME_BYTES`]; a client reads responses with
/// [`MAX_RESPONSE_FRAME_BYTES`], which is this ceiling (see there why).
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// Bytes of the length prefix.
pub const FRAME_HEADER_BYTES: usize = 4;

/// How much of a frame body is allocated ahead of the bytes arriving: the buffer grows (doubling, up
/// to the announced length) only as data actually comes in, so a peer that announces 16 MiB and sends
/// nothing costs us 64 KiB, not 16 MiB.
const INITIAL_BODY_ALLOCATION: usize = 64 * 1024;

/// The payload length announced by a frame header, checked against [`MAX_FRAME_BYTES`] (the wire
/// spec's ceiling; our readers apply the tighter [`MAX_REQUEST_FRAME_BYTES`] where they can) and for
/// the code byte every payload needs.
pub fn decode_frame_header(header: [u8; FRAME_HEADER_BYTES]) -> Result<usize, WireError> {
    decode_frame_header_within(header, MAX_FRAME_BYTES)
}

/// [`decode_frame_header`] against `max_bytes` instead of [`MAX_FRAME_BYTES`].
fn decode_frame_header_within(
    header: [u8; FRAME_HEADER_BYTES],
    max_bytes: usize,
) -> Result<usize, WireError> {
    let len = u32::from_be_bytes(header) as usize;
    if len > max_bytes {
        return Err(WireError::FrameTooLarge { len, max: max_bytes });
    }
    if len == 0 {
        return Err(WireError::EmptyFrame);
    }
    Ok(len)
}

/// The whole frame of `message`: length prefix and payload.
///
/// Fails with [`WireError::FrameTooLarge`] if the payload would exceed [`MAX_FRAME_BYTES`] (the
/// receiver would reject it).
pub fn encode_frame(message: &Message) -> Result<Vec<u8>, WireError> {
    let payload = message.encode();
    if payload.len() > MAX_FRAME_BYTES {
        return Err(WireError::FrameTooLarge { len: payload.len(), max: MAX_FRAME_BYTES });
    }
    let mut frame = Vec::with_capacity(FRAME_HEADER_BYTES + payload.len());
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(&payload);
    Ok(frame)
}

/// Longest frame a server reads from a client, and what either side reads during the handshake.
///
/// A client only ever sends Status (under 100 bytes), Disconnect (a few bytes) and GetNodeData, whose
/// largest legitimate form — [`MAX_HASHES_PER_REQUEST`](crate::MAX_HASHES_PER_REQUEST) hashes and a
/// 64-bit request id — is 12,688 bytes (code byte, 3-byte list header, 9-byte id, 3-byte list header,
/// 384 × 33 bytes of hashes). 16 KiB leaves margin while keeping what a server buffers per connection
/// small: [`MAX_FRAME_BYTES`] would let 50 silent peers pin 800 MiB before the 384-hash check runs.
/// A larger frame is a protocol breach, detected from its header alone.
pub const MAX_REQUEST_FRAME_BYTES: usize = 16 * 1024;

/// Longest frame a client reads from a server after the handshake: [`MAX_FRAME_BYTES`], on purpose.
///
/// An honest NodeData is either several blobs adding up to at most
/// [`SOFT_RESPONSE_BYTES`](crate::SOFT_RESPONSE_BYTES) or a single blob of any size (the first blob
/// found is always sent, and another implementation may stop *after* crossing the soft limit, so
/// soft limit + one blob). Trie nodes are under 1 KiB and mainnet contract code under 24 KiB, but the
/// wire spec bounds a blob by nothing but the frame, and states built from a genesis file or another
/// chain can hold larger code: any cap below the spec's ceiling would make such a state unsyncable and
/// blame honest peers for it. What this costs is bounded anyway: the body buffer grows only as bytes
/// actually arrive, the rest of a frame must arrive within [`TcpConfig::frame_timeout`](crate::TcpConfig),
/// and a client talks to few peers, chosen by its operator.
pub const MAX_RESPONSE_FRAME_BYTES: usize = MAX_FRAME_BYTES;

/// How a frame is read: how large it may be and how long it may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameLimits {
    /// Longest payload accepted; a header announcing more is a protocol breach.
    pub(crate) max_bytes: usize,
    /// How long to wait for the first byte of the next frame (`None`: as long as it takes), so a
    /// server can drop connections that went quiet.
    pub(crate) idle_timeout: Option<Duration>,
    /// How long the rest of a frame may take once its first byte arrived, so a peer dripping bytes
    /// cannot hold a connection (and its buffer) forever.
    pub(crate) frame_timeout: Duration,
}

/// Why reading a message failed.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The peer sent something that breaks the protocol.
    Wire(WireError),
    /// The connection failed, or ended inside a frame (`UnexpectedEof`): a crash, not a breach.
    Io(io::Error),
    /// No frame began within [`FrameLimits::idle_timeout`].
    Idle,
    /// A frame began but did not complete within [`FrameLimits::frame_timeout`].
    FrameTimeout {
        /// Bytes the frame (header and payload) should have had.
        expected: usize,
        /// Bytes that arrived in time.
        got: usize,
    },
}

impl From<WireError> for ReadError {
    fn from(error: WireError) -> Self {
        ReadError::Wire(error)
    }
}

/// The error for a connection that ends inside a frame.
fn ended_inside_frame(expected: usize, got: usize) -> ReadError {
    let message = format!("connection ended inside a frame: expected {expected} bytes, got {got}");
    ReadError::Io(io::Error::new(io::ErrorKind::UnexpectedEof, message))
}

/// Reads one frame's payload within `limits`; `Ok(None)` if the stream ends cleanly before a new frame.
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    limits: FrameLimits,
) -> Result<Option<Vec<u8>>, ReadError> {
    let mut header = [0u8; FRAME_HEADER_BYTES];
    // The first byte: as long as the caller allows between frames.
    let first = reader.read(&mut header);
    let got = match limits.idle_timeout {
        Some(idle) => tokio::time::timeout(idle, first).await.map_err(|_| ReadError::Idle)?,
        None => first.await,
    }
    .map_err(ReadError::Io)?;
    if got == 0 {
        return Ok(None);
    }
    // The rest of the frame, header included, against one deadline.
    let mut progress = Progress { expected: FRAME_HEADER_BYTES, got };
    let rest = read_rest(reader, header, limits.max_bytes, &mut progress);
    match tokio::time::timeout(limits.frame_timeout, rest).await {
        Ok(result) => result.map(Some),
        Err(_) => Err(ReadError::FrameTimeout { expected: progress.expected, got: progress.got }),
    }
}

/// How far a frame has been read, for the error when it stalls: bytes expected so far (the header,
/// then the header and the announced payload) and bytes received.
struct Progress {
    expected: usize,
    got: usize,
}

/// Reads the rest of a frame whose first `progress.got` header bytes are in `header`.
async fn read_rest<R: AsyncRead + Unpin>(
    reader: &mut R,
    mut header: [u8; FRAME_HEADER_BYTES],
    max_bytes: usize,
    progress: &mut Progress,
) -> Result<Vec<u8>, ReadError> {
    while progress.got < FRAME_HEADER_BYTES {
        let n = reader.read(&mut header[progress.got..]).await.map_err(ReadError::Io)?;
        if n == 0 {
            return Err(ended_inside_frame(progress.expected, progress.got));
        }
        progress.got += n;
    }
    let len = decode_frame_header_within(header, max_bytes)?;
    progress.expected = FRAME_HEADER_BYTES + len;
    let mut body = Vec::with_capacity(len.min(INITIAL_BODY_ALLOCATION));
    let mut limited = reader.take(len as u64);
    while body.len() < len {
        if body.len() == body.capacity() {
            body.reserve_exact(body.capacity().max(INITIAL_BODY_ALLOCATION).min(len - body.len()));
        }
        let n = limited.read_buf(&mut body).await.map_err(ReadError::Io)?;
        progress.got = FRAME_HEADER_BYTES + body.len();
        if n == 0 {
            return Err(ended_inside_frame(progress.expected, progress.got));
        }
    }
    Ok(body)
}

/// Reads and decodes one message within `limits`; `Ok(None)` if the stream ends cleanly before a new
/// frame.
pub(crate) async fn read_message<R: AsyncRead + Unpin>(
    reader: &mut R,
    limits: FrameLimits,
) -> Result<Option<Message>, ReadError> {
    match read_frame(reader, limits).await? {
        Some(payload) => Ok(Some(Message::decode(&payload)?)),
        None => Ok(None),
    }
}

/// Writes one message as a frame and flushes it.
pub(crate) async fn write_message<W: AsyncWrite + Unpin>(
    writer: &mut W,
    message: &Message,
) -> io::Result<()> {
    let frame = encode_frame(message).map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
    writer.write_all(&frame).await?;
    writer.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use primitive_types::H256;

    /// Generous limits, as a client reads responses.
    fn loose() -> FrameLimits {
        FrameLimits { max_bytes: MAX_FRAME_BYTES, idle_timeout: None, frame_timeout: Duration::from_secs(20) }
    }

    #[tokio::test]
    async fn oversized_header_fails_without_waiting_for_the_body() {
        // The writer sends only the header and keeps the stream open: reading the body would hang.
        let (mut client, mut server) = tokio::io::duplex(64);
        client.write_all(&((MAX_FRAME_BYTES as u32) + 1).to_be_bytes()).await.unwrap();
        let result = read_frame(&mut server, loose()).await;
        assert!(
            matches!(result, Err(ReadError::Wire(WireError::FrameTooLarge { len, .. })) if len == MAX_FRAME_BYTES + 1)
        );
        drop(client);
    }

    #[tokio::test]
    async fn the_cap_is_the_callers() {
        let limits = FrameLimits { max_bytes: MAX_REQUEST_FRAME_BYTES, ..loose() };
        let (mut client, mut server) = tokio::io::duplex(64);
        client.write_all(&((MAX_REQUEST_FRAME_BYTES as u32) + 1).to_be_bytes()).await.unwrap();
        let result = read_frame(&mut server, limits).await;
        assert!(matches!(
            result,
            Err(ReadError::Wire(WireError::FrameTooLarge { len, max: MAX_REQUEST_FRAME_BYTES }))
                if len == MAX_REQUEST_FRAME_BYTES + 1
        ));
    }

    #[tokio::test]
    async fn the_largest_legitimate_request_fits_the_request_cap() {
        let request = Message::GetNodeData {
            request_id: u64::MAX,
            hashes: vec![H256::repeat_byte(0xff); crate::MAX_HASHES_PER_REQUEST],
        };
        assert_eq!(request.encode().len(), 12_688);
        assert!(request.encode().len() <= MAX_REQUEST_FRAME_BYTES);
        let status = Message::Status { version: u64::MAX, network_id: u64::MAX, head_root: H256::zero() };
        assert!(status.encode().len() < 100);

        let (mut client, mut server) = tokio::io::duplex(1 << 16);
        write_message(&mut client, &request).await.unwrap();
        let limits = FrameLimits { max_bytes: MAX_REQUEST_FRAME_BYTES, ..loose() };
        assert_eq!(read_message(&mut server, limits).await.unwrap(), Some(request));
    }

    #[tokio::test]
    async fn eof_inside_a_frame_is_a_lost_connection_and_clean_eof_is_none() {
        let (mut client, mut server) = tokio::io::duplex(64);
        client.write_all(&[0, 0, 0, 10, 1, 2, 3]).await.unwrap();
        drop(client);
        match read_frame(&mut server, loose()).await {
            Err(ReadError::Io(error)) => {
                assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
                assert!(error.to_string().contains("expected 14 bytes, got 7"), "{error}");
            }
            other => panic!("{other:?}"),
        }

        let (mut client, mut server) = tokio::io::duplex(64);
        client.write_all(&[0, 0]).await.unwrap();
        drop(client);
        match read_frame(&mut server, loose()).await {
            Err(ReadError::Io(error)) => assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof),
            other => panic!("{other:?}"),
        }

        let (client, mut server) = tokio::io::duplex(64);
        drop(client);
        assert!(matches!(read_frame(&mut server, loose()).await, Ok(None)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_frame_dripping_in_times_out_from_its_first_byte() {
        let (mut client, mut server) = tokio::io::duplex(64);
        let drip = tokio::spawn(async move {
            client.write_all(&[0, 0, 0, 100, 0x0d]).await.unwrap();
            // One byte every 6 s: each arrival would reset a per-read timeout, not a frame deadline.
            for _ in 0..20 {
                tokio::time::sleep(Duration::from_secs(6)).await;
                if client.write_all(&[0xc0]).await.is_err() {
                    break;
                }
            }
        });
        let start = tokio::time::Instant::now();
        let result = read_frame(&mut server, loose()).await;
        assert!(matches!(result, Err(ReadError::FrameTimeout { expected: 104, got: 8 })), "{result:?}");
        assert_eq!(start.elapsed(), Duration::from_secs(20));
        drop(server);
        drip.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_header_trickling_in_times_out_too() {
        let (mut client, mut server) = tokio::io::duplex(64);
        client.write_all(&[0]).await.unwrap();
        let start = tokio::time::Instant::now();
        let result = read_frame(&mut server, loose()).await;
        assert!(matches!(result, Err(ReadError::FrameTimeout { expected: 4, got: 1 })), "{result:?}");
        assert_eq!(start.elapsed(), Duration::from_secs(20));
        drop(client);
    }

    #[tokio::test(start_paused = true)]
    async fn the_idle_timeout_bounds_only_the_wait_for_a_frame() {
        let idle = FrameLimits { idle_timeout: Some(Duration::from_secs(60)), ..loose() };
        let (mut client, mut server) = tokio::io::duplex(64);
        let start = tokio::time::Instant::now();
        assert!(matches!(read_frame(&mut server, idle).await, Err(ReadError::Idle)));
        assert_eq!(start.elapsed(), Duration::from_secs(60));

        // A frame begun at 59 s has its own 20 s, not the 1 s left of the idle timeout.
        let write = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(59)).await;
            client.write_all(&[0, 0, 0, 2]).await.unwrap();
            tokio::time::sleep(Duration::from_secs(15)).await;
            client.write_all(&[0x01, 0xc0]).await.unwrap();
            client
        });
        assert_eq!(read_frame(&mut server, idle).await.unwrap(), Some(vec![0x01, 0xc0]));
        drop(write.await.unwrap());
    }

    #[tokio::test]
    async fn frames_round_trip_back_to_back() {
        let (mut client, mut server) = tokio::io::duplex(1 << 20);
        let first = Message::GetNodeData { request_id: 7, hashes: vec![H256::repeat_byte(1); 3] };
        let second = Message::NodeData { request_id: 7, blobs: vec![vec![9u8; 200_000]] };
        write_message(&mut client, &first).await.unwrap();
        write_message(&mut client, &second).await.unwrap();
        drop(client);
        assert_eq!(read_message(&mut server, loose()).await.unwrap(), Some(first));
        assert_eq!(read_message(&mut server, loose()).await.unwrap(), Some(second));
        assert_eq!(read_message(&mut server, loose()).await.unwrap(), None);
    }

    #[test]
    fn header_limits() {
        assert_eq!(decode_frame_header(16u32.to_be_bytes()), Ok(16));
        assert_eq!(decode_frame_header((MAX_FRAME_BYTES as u32).to_be_bytes()), Ok(MAX_FRAME_BYTES));
        assert_eq!(decode_frame_header([0; 4]), Err(WireError::EmptyFrame));
        assert!(matches!(decode_frame_header([0xff; 4]), Err(WireError::FrameTooLarge { .. })));
        assert_eq!(
            decode_frame_header_within(1000u32.to_be_bytes(), 999),
            Err(WireError::FrameTooLarge { len: 1000, max: 999 })
        );
    }
}
