//! `warroom serve`: the axum router, generic over a `Store`.
