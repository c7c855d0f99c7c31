mod cleanup;
mod keys;
mod parity;
mod restart;
