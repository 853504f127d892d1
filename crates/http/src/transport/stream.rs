//! The TCP stream as hyper sees it: reads and flushes feed the connection's [`Activity`],
//! and hyper's bare refusal of an unparseable head is swapped for the envelope
//! ([`super::refused`]).

use super::activity::Activity;
use super::refused;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

pub(super) struct TrackedStream {
    inner: TcpStream,
    peer: SocketAddr,
    activity: Arc<Activity>,
    /// Our answer in place of hyper's refusal, and how much of it is sent.
    replacement: Option<(Vec<u8>, usize)>,
}

impl TrackedStream {
    pub(super) fn new(inner: TcpStream, peer: SocketAddr, activity: Arc<Activity>) -> Self {
        Self {
            inner,
            peer,
            activity,
            replacement: None,
        }
    }

    /// Takes over a write of hyper's that answers no application request. Returns false
    /// for ordinary response bytes, which go out unchanged.
    ///
    /// If a client pipelines and the previous response is still being flushed when hyper
    /// refuses the next head, both are in one write and the refusal stays bare; ordinary
    /// clients do not pipeline.
    fn intercept(&mut self, bufs: &[IoSlice<'_>]) -> bool {
        if self.replacement.is_some() {
            // hyper writes nothing after a refusal; never let bytes follow our answer.
            return true;
        }
        if !self.activity.all_responses_flushed() {
            return false;
        }
        let mut start = Vec::with_capacity(16);
        for buf in bufs {
            let wanted = 16 - start.len();
            start.extend_from_slice(&buf[..buf.len().min(wanted)]);
        }
        match refused::replacement(&start) {
            Some(refusal) => {
                tracing::info!(
                    request_id = %refusal.request_id,
                    status = refusal.status.as_u16(),
                    peer = %self.peer,
                    "request head refused before routing"
                );
                self.replacement = Some((refusal.bytes, 0));
                true
            }
            None => false,
        }
    }

    fn poll_send_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some((bytes, sent)) = &mut self.replacement {
            while *sent < bytes.len() {
                let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*sent..]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                *sent += n;
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for TrackedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = ready!(Pin::new(&mut this.inner).poll_read(cx, buf));
        if result.is_ok() && buf.filled().len() > before {
            this.activity.bytes_read(Instant::now());
        }
        Poll::Ready(result)
    }
}

impl AsyncWrite for TrackedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.intercept(&[IoSlice::new(buf)]) {
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.intercept(bufs) {
            return Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()));
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send_replacement(cx))?;
        ready!(Pin::new(&mut this.inner).poll_flush(cx))?;
        this.activity.flushed(Instant::now());
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send_replacement(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}
