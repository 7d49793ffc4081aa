//! `backprop lab`: a local web app that shows backpropagation happen.
//!
//! Three views, all computed by the library and drawn by a page built into the binary
//! (plain HTML, JavaScript and SVG; nothing is fetched from the network):
//!
//! - the **graph stepper** ([`stepper`]) evaluates an expression with [`crate::graph`], exactly
//!   as `backprop graph` does, and the page steps through the forward pass and then the
//!   backward pass one node at a time, showing the local rule each node applies;
//! - the **layer bench** ([`bench`](mod@bench)) runs one small example through a layer of
//!   [`crate::layers`] and puts the gradients `backward` returns beside the numerical ones of
//!   [`crate::gradient`];
//! - **live training** ([`runs`]) trains networks with [`crate::train`] on threads of their
//!   own and streams loss, accuracy, first-layer weights, per-layer histograms and health
//!   signals to the page with server-sent events.
//!
//! The server is axum on tokio. It binds to 127.0.0.1 unless told otherwise and refuses
//! (403) every request whose `Host` is not a loopback name or an IP address with the lab's
//! port, or whose `Origin` is not the lab's own ([`guard`]): another web page, or a DNS name
//! rebound to 127.0.0.1, cannot drive training or write files. Files are written only to
//! the path the user types; a run lives on the server, so closing the tab does not stop it,
//! and a run that panics ends with an error event while the server carries on.

pub mod bench;
pub mod guard;
pub mod runs;
mod server;
pub mod stepper;

pub use server::{LabOptions, serve};
