//! Framing: every message travels as a 4-byte big-endian payload length, then the payload.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::{Message, WireError};

/// Longest frame payload accepted or sent.
///
/// A frame longer than this is a protocol breach, detected from the 4-byte header alone: the reader
/// fails without reading or allocating the body, so a peer cannot make us buffer gigabytes by lying
/// about a length. 16 MiB is far above the largest honest message (a NodeData stops near
/// [`SOFT_RESPONSE_BYTES`](crate::SOFT_RESPONSE_BYTES), plus one blob).
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// Bytes of the length prefix.
pub const FRAME_HEADER_BYTES: usize = 4;

/// How much of a frame body is allocated ahead of the bytes arriving: the buffer grows (doubling, up
/// to the announced length) only as data actually comes in, so a peer that announces 16 MiB and sends
/// nothing costs us 64 KiB, not 16 MiB.
const INITIAL_BODY_ALLOCATION: usize = 64 * 1024;

/// The payload length announced by a frame header, checked against [`MAX_FRAME_BYTES`] and for the
/// code byte every payload needs.
pub fn decode_frame_header(header: [u8; FRAME_HEADER_BYTES]) -> Result<usize, WireError> {
    let len = u32::from_be_bytes(header) as usize;
    if len > MAX_FRAME_BYTES {
        return Err(WireError::FrameTooLarge { len, max: MAX_FRAME_BYTES });
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

/// Why reading a message failed.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The peer sent something that breaks the protocol.
    Wire(WireError),
    /// The connection failed.
    Io(io::Error),
}

impl From<WireError> for ReadError {
    fn from(error: WireError) -> Self {
        ReadError::Wire(error)
    }
}

/// Reads one frame's payload; `Ok(None)` if the stream ends cleanly before a new frame.
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(reader: &mut R) -> Result<Option<Vec<u8>>, ReadError> {
    let mut header = [0u8; FRAME_HEADER_BYTES];
    let mut got = 0;
    while got < FRAME_HEADER_BYTES {
        let n = reader.read(&mut header[got..]).await.map_err(ReadError::Io)?;
        if n == 0 {
            if got == 0 {
                return Ok(None);
            }
            return Err(WireError::TruncatedFrame { expected: FRAME_HEADER_BYTES, got }.into());
        }
        got += n;
    }
    let len = decode_frame_header(header)?;
    let mut body = Vec::with_capacity(len.min(INITIAL_BODY_ALLOCATION));
    let mut limited = reader.take(len as u64);
    while body.len() < len {
        if body.len() == body.capacity() {
            body.reserve_exact(body.capacity().max(INITIAL_BODY_ALLOCATION).min(len - body.len()));
        }
        let n = limited.read_buf(&mut body).await.map_err(ReadError::Io)?;
        if n == 0 {
            return Err(WireError::TruncatedFrame { expected: len, got: body.len() }.into());
        }
    }
    Ok(Some(body))
}

/// Reads and decodes one message; `Ok(None)` if the stream ends cleanly before a new frame.
pub(crate) async fn read_message<R: AsyncRead + Unpin>(reader: &mut R) -> Result<Option<Message>, ReadError> {
    match read_frame(reader).await? {
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

    #[tokio::test]
    async fn oversized_header_fails_without_waiting_for_the_body() {
        // The writer sends only the header and keeps the stream open: reading the body would hang.
        let (mut client, mut server) = tokio::io::duplex(64);
        client.write_all(&((MAX_FRAME_BYTES as u32) + 1).to_be_bytes()).await.unwrap();
        let result = read_frame(&mut server).await;
        assert!(
            matches!(result, Err(ReadError::Wire(WireError::FrameTooLarge { len, .. })) if len == MAX_FRAME_BYTES + 1)
        );
        drop(client);
    }

    #[tokio::test]
    async fn truncated_body_and_header_are_errors_and_clean_eof_is_none() {
        let (mut client, mut server) = tokio::io::duplex(64);
        client.write_all(&[0, 0, 0, 10, 1, 2, 3]).await.unwrap();
        drop(client);
        let result = read_frame(&mut server).await;
        assert!(matches!(result, Err(ReadError::Wire(WireError::TruncatedFrame { expected: 10, got: 3 }))));

        let (mut client, mut server) = tokio::io::duplex(64);
        client.write_all(&[0, 0]).await.unwrap();
        drop(client);
        let result = read_frame(&mut server).await;
        assert!(matches!(result, Err(ReadError::Wire(WireError::TruncatedFrame { expected: 4, got: 2 }))));

        let (client, mut server) = tokio::io::duplex(64);
        drop(client);
        assert!(matches!(read_frame(&mut server).await, Ok(None)));
    }

    #[tokio::test]
    async fn frames_round_trip_back_to_back() {
        let (mut client, mut server) = tokio::io::duplex(1 << 20);
        let first = Message::GetNodeData { request_id: 7, hashes: vec![H256::repeat_byte(1); 3] };
        let second = Message::NodeData { request_id: 7, blobs: vec![vec![9u8; 200_000]] };
        write_message(&mut client, &first).await.unwrap();
        write_message(&mut client, &second).await.unwrap();
        drop(client);
        assert_eq!(read_message(&mut server).await.unwrap(), Some(first));
        assert_eq!(read_message(&mut server).await.unwrap(), Some(second));
        assert_eq!(read_message(&mut server).await.unwrap(), None);
    }

    #[test]
    fn header_limits() {
        assert_eq!(decode_frame_header(16u32.to_be_bytes()), Ok(16));
        assert_eq!(decode_frame_header((MAX_FRAME_BYTES as u32).to_be_bytes()), Ok(MAX_FRAME_BYTES));
        assert_eq!(decode_frame_header([0; 4]), Err(WireError::EmptyFrame));
        assert!(matches!(decode_frame_header([0xff; 4]), Err(WireError::FrameTooLarge { .. })));
    }
}
