//! The contract suite on each engine (`sqlite::…`, `postgres::…`), the PostgreSQL-only
//! guarantees and the cancellation checks, all in one test binary.

mod cancellation;
mod postgres;
mod postgres_security;
mod sqlite;
