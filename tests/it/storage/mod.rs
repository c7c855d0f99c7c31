mod keys;
mod parity;
mod restart;
