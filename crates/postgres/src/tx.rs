//! Transactions whose future may be dropped at any await without a pooled connection ever
//! going back to the pool inside a transaction.
//!
//! A request future is dropped wherever it is when its client hangs up. sqlx's
//! `Transaction` handles a drop between two statements (it queues a `ROLLBACK` that is sent
//! before the connection is pooled again), but not a drop while `BEGIN` is on the wire:
//! sqlx 0.8.6 counts the transaction only once the server has answered, so its guard finds
//! nothing to roll back and the connection is pooled with the server inside a transaction.
//! The next request's `BEGIN` then lands in it ("there is already a transaction in
//! progress"), its statements run in it, and whatever that connection does next decides the
//! fate of everything in it. A drop while `COMMIT` is on the wire had sqlx queue a
//! `ROLLBACK` after the `COMMIT` ("there is no transaction in progress").
//!
//! [`PgTx`] owns its connection and knows when a statement that opens or ends the
//! transaction is in flight. Dropped then, nobody can tell whether the server is inside a
//! transaction, so the connection is closed rather than pooled: the server then ends the
//! session, rolling back anything still open (a `COMMIT` already sent still commits, whole).
//! Dropped between statements, it queues the rollback as sqlx does. Every transaction of
//! this crate starts here.

use sqlx::pool::PoolConnection;
use sqlx::postgres::PgTransactionManager;
use sqlx::{PgConnection, PgPool, Postgres, TransactionManager};
use std::borrow::Cow;
use std::ops::{Deref, DerefMut};

pub(crate) struct PgTx {
    conn: PoolConnection<Postgres>,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// `BEGIN`, `COMMIT` or `ROLLBACK` sent, its answer not read: the server's transaction
    /// state is unknown.
    InFlight,
    Open,
    Ended,
}

impl PgTx {
    /// Takes a connection from `pool` and opens a transaction with `statement` (which must
    /// leave the session inside a transaction), or a plain `BEGIN`. The statement and the
    /// `BEGIN` travel together, in one round trip.
    pub(crate) async fn begin(pool: &PgPool, statement: Option<String>) -> sqlx::Result<Self> {
        let conn = pool.acquire().await?;
        let mut tx = Self {
            conn,
            state: State::InFlight,
        };
        PgTransactionManager::begin(&mut tx.conn, statement.map(Cow::Owned)).await?;
        tx.state = State::Open;
        Ok(tx)
    }

    pub(crate) async fn commit(mut self) -> sqlx::Result<()> {
        self.state = State::InFlight;
        PgTransactionManager::commit(&mut self.conn).await?;
        self.state = State::Ended;
        Ok(())
    }

    pub(crate) async fn rollback(mut self) -> sqlx::Result<()> {
        self.state = State::InFlight;
        PgTransactionManager::rollback(&mut self.conn).await?;
        self.state = State::Ended;
        Ok(())
    }
}

impl Drop for PgTx {
    fn drop(&mut self) {
        match self.state {
            // Also reached when BEGIN or COMMIT failed: a connection in doubt is not reused.
            State::InFlight => self.conn.close_on_drop(),
            // Sent ahead of anything else the next time the connection is used, which is
            // the pool's check on its return.
            State::Open => PgTransactionManager::start_rollback(&mut self.conn),
            State::Ended => {}
        }
    }
}

impl Deref for PgTx {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.conn
    }
}

impl DerefMut for PgTx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}
