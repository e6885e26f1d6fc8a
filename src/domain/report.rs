//! Response figures (todo).
