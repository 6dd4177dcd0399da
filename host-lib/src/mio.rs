//! Endpoints as `mio` event sources (feature `mio`).
//!
//! An endpoint registers its wake-up fd (readable interest only). The loop follows the arm
//! protocol of [`Endpoint::arm`]: poll the endpoint until it is empty, arm it, and only when
//! `arm` returns `true` go back to `Poll::poll`; when the endpoint's token comes back, poll
//! again. mio is edge-triggered, which fits: each wake-up of an armed endpoint is a new write
//! to its fd.
//!
//! ```no_run
//! use mio::{Events, Interest, Poll, Token};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let nic = evnic::Nic::open(evnic::DeviceSpec::Sim)?;
//! let mut ep = nic.endpoint(Default::default())?;
//! let mut poll = Poll::new()?;
//! poll.registry().register(&mut ep, Token(0), Interest::READABLE)?;
//! let mut events = Events::with_capacity(16);
//! loop {
//!     while let Some(e) = ep.poll() {
//!         println!("{e:?}");
//!     }
//!     if ep.arm()? {
//!         poll.poll(&mut events, None)?;
//!     }
//! #   break;
//! }
//! # Ok(()) }
//! ```

use crate::endpoint::Endpoint;
use ::mio::event::Source;
use ::mio::unix::SourceFd;
use ::mio::{Interest, Registry, Token};
use std::io;
use std::os::fd::AsRawFd;

fn readable_only(interests: Interest) -> io::Result<()> {
    if interests.is_writable() || interests.is_priority() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "an evnic endpoint can only be registered for READABLE (its events)",
        ));
    }
    Ok(())
}

/// The endpoint's wake-up fd, readable after [`Endpoint::arm`] when an event arrives.
impl Source for Endpoint {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        readable_only(interests)?;
        SourceFd(&self.as_raw_fd()).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        readable_only(interests)?;
        SourceFd(&self.as_raw_fd()).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        SourceFd(&self.as_raw_fd()).deregister(registry)
    }
}
