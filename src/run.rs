//! warroom run (todo).
