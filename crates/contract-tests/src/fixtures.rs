//! Builders for the rows scenarios need.

use crate::{Fixture, START};
use time::Duration;
use tmcp_domain::payment_state::PaymentState;
use tmcp_domain::user::Role;
use tmcp_domain::{AppId, Currency, Money, PaymentId, UserId};
use tmcp_repository::{NewApp, NewPaymentRecord, NewUser, User};

pub async fn user(fixture: &Fixture, name: &str) -> User {
    let at = fixture.clock.now_for_fixtures();
    fixture
        .db
        .create_user(NewUser {
            id: UserId::new_v7(at),
            username: name.to_owned(),
            email: format!("{name}@example.com"),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$placeholder".into(),
            first_name: Some("Test".into()),
            last_name: None,
            phone_ciphertext: None,
            role: Role::User,
            created_at: at,
        })
        .await
        .expect("user is created")
}

pub async fn app(fixture: &Fixture, id: &str, developer: &User) -> AppId {
    let app_id = AppId::parse(id).expect("valid app id");
    fixture
        .db
        .create_app(NewApp {
            app_id: app_id.clone(),
            name: format!("App {id}"),
            version: "1.0.0".into(),
            classification: "community".into(),
            developer_id: developer.id,
            developer_name: developer.username.clone(),
            status: "active".into(),
            created_at: *START,
        })
        .await
        .expect("app is created");
    app_id
}

pub async fn payment(fixture: &Fixture, user: &User, app: &AppId, minor: i64, status: &str) {
    let state = if status == "completed" {
        PaymentState::Completed
    } else {
        PaymentState::Failed
    };
    let at = fixture.clock.now_for_fixtures();
    fixture
        .db
        .insert_payment(NewPaymentRecord {
            payment_id: PaymentId::new_v7(at),
            user_id: user.id,
            app_id: Some(app.clone()),
            amount: Money {
                minor,
                currency: Currency::parse("USD").expect("USD"),
            },
            description: None,
            status: status.into(),
            state,
            created_at: at,
        })
        .await
        .expect("payment is recorded");
}

/// Fixture rows get distinct, increasing timestamps so time-ordered ids never collide.
pub trait FixtureClock {
    fn now_for_fixtures(&self) -> time::OffsetDateTime;
}

impl FixtureClock for tmcp_domain::ManualClock {
    fn now_for_fixtures(&self) -> time::OffsetDateTime {
        use tmcp_domain::Clock;
        self.advance(Duration::milliseconds(1));
        self.now()
    }
}
