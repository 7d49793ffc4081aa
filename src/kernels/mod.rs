//! The layers' hot loops, apart from the book's math: a layer file reads like the book's
//! class and calls in here for the loops that are compiled per instruction set
//! ([`crate::cpu`]'s `dispatch!`, the one mechanism) and split over threads
//! ([`crate::parallel`]). Matrix products are [`crate::linalg`]'s, and the convolution's
//! unrolling is [`crate::functions::im2col`]'s.

pub(crate) mod pooling;
pub(crate) mod relu;
