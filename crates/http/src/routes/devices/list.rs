//! `GET /api/v1/devices`.

use super::views::DeviceView;
use crate::auth::SessionPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::AccountsState;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use tmcp_usecases::accounts::devices::devices;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceList {
    pub devices: Vec<DeviceView>,
}

/// The caller's registered devices, oldest first.
#[utoipa::path(get, path = "/api/v1/devices", tag = "devices",
    security(("session" = [])),
    responses(
        (status = 200, description = "devices", body = DeviceList),
        (status = 401, description = "`INVALID_TOKEN`", body = ErrorEnvelope)))]
pub async fn list_devices(
    State(accounts): State<AccountsState>,
    principal: SessionPrincipal,
) -> Result<Json<DeviceList>, ApiError> {
    let devices = devices(accounts.ports(), principal.user_id).await?;
    Ok(Json(DeviceList {
        devices: devices.iter().map(DeviceView::from).collect(),
    }))
}
