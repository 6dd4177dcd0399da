//! [`AsyncEndpoint`]: an endpoint in a tokio runtime (feature `tokio`).

use crate::endpoint::Endpoint;
use crate::event::Event;
use crate::Error;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// An endpoint whose events are awaited in a tokio runtime: [`AsyncEndpoint::recv`],
/// [`AsyncEndpoint::recv_batch`], and a [`Stream`](futures_core::Stream) of events.
///
/// Each reads the ring first (memory only: an event that is there costs no system call and
/// no interrupt), arms the endpoint only when the ring is empty ([`Endpoint::arm`]), and then
/// awaits its wake-up fd in the runtime's reactor. It never spins (that would hold up the
/// runtime's thread); use [`Endpoint::wait`] on a thread of its own for the spinning policy.
/// No wake-up is lost: readiness is cleared before the ring is read again, and the endpoint is
/// armed again before the next await.
///
/// ```no_run
/// # async fn run() -> Result<(), evnic::Error> {
/// let nic = evnic::Nic::open(evnic::DeviceSpec::Sim)?;
/// let ep = nic.endpoint(Default::default())?;
/// ep.subscribe(evnic::Group(3))?;
/// let ep = evnic::AsyncEndpoint::new(ep)?; // inside a tokio runtime
/// let first = ep.recv().await?;
/// println!("{first:?}");
/// # Ok(()) }
/// ```
pub struct AsyncEndpoint {
    fd: AsyncFd<Endpoint>,
    /// A stream that has returned an error of the device ends after it.
    ended: bool,
}

fn reactor_error(err: std::io::Error) -> Error {
    Error::Os {
        call: "wait for the endpoint's wake-up fd in tokio's reactor",
        err,
    }
}

impl AsyncEndpoint {
    /// Registers `ep`'s wake-up fd with the current tokio runtime. Fails outside a runtime;
    /// panics, as tokio does, in a runtime built without its I/O driver (`enable_io`).
    pub fn new(ep: Endpoint) -> Result<AsyncEndpoint, Error> {
        if let Err(e) = tokio::runtime::Handle::try_current() {
            return Err(Error::Os {
                call: "AsyncEndpoint::new outside a tokio runtime",
                err: std::io::Error::other(e),
            });
        }
        // SAFETY: the fd is the endpoint's own eventfd, which stays open, and the same, for as
        // long as the endpoint lives: the AsyncFd owns the endpoint.
        let fd =
            unsafe { AsyncFd::register_with_interest(ep, Interest::READABLE) }.map_err(|e| {
                Error::Os {
                    call: "register the endpoint's wake-up fd with tokio",
                    err: e.into_parts().1,
                }
            })?;
        Ok(AsyncEndpoint { fd, ended: false })
    }

    /// The endpoint (to subscribe, indicate, poll).
    pub fn get_ref(&self) -> &Endpoint {
        self.fd.get_ref()
    }

    /// Deregisters from the runtime and gives the endpoint back.
    pub fn into_inner(self) -> Endpoint {
        self.fd.into_inner()
    }

    /// The next event.
    pub async fn recv(&self) -> Result<Event, Error> {
        let ep = self.fd.get_ref();
        loop {
            if let Some(e) = ep.poll() {
                return Ok(e);
            }
            if !ep.arm()? {
                continue;
            }
            let mut guard = self.fd.readable().await.map_err(reactor_error)?;
            guard.clear_ready();
        }
    }

    /// Waits until events are there, then appends up to `max` of them to `out`; returns how
    /// many (0 only for `max` = 0).
    pub async fn recv_batch(&self, out: &mut Vec<Event>, max: usize) -> Result<usize, Error> {
        if max == 0 {
            return Ok(0);
        }
        let ep = self.fd.get_ref();
        loop {
            let n = ep.poll_batch(out, max);
            if n > 0 {
                return Ok(n);
            }
            if !ep.arm()? {
                continue;
            }
            let mut guard = self.fd.readable().await.map_err(reactor_error)?;
            guard.clear_ready();
        }
    }

    /// The poll form of [`AsyncEndpoint::recv`], for hand-written futures.
    pub fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Result<Event, Error>> {
        let ep = self.fd.get_ref();
        loop {
            if let Some(e) = ep.poll() {
                return Poll::Ready(Ok(e));
            }
            match ep.arm() {
                Err(e) => return Poll::Ready(Err(e)),
                Ok(false) => continue,
                Ok(true) => {}
            }
            match self.fd.poll_read_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(err)) => return Poll::Ready(Err(reactor_error(err))),
                Poll::Ready(Ok(mut guard)) => guard.clear_ready(),
            }
        }
    }
}

/// Events as they arrive. A failure of the device or the reactor is yielded once, and then
/// the stream ends.
impl futures_core::Stream for AsyncEndpoint {
    type Item = Result<Event, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        match this.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(e)) => Poll::Ready(Some(Ok(e))),
            Poll::Ready(Err(e)) => {
                this.ended = true;
                Poll::Ready(Some(Err(e)))
            }
        }
    }
}

impl std::fmt::Debug for AsyncEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncEndpoint")
            .field("endpoint", self.fd.get_ref())
            .finish()
    }
}
