//! Service logic between the handlers and the repositories: rules that need more than one
//! repository call or that several handlers share.

pub mod payments;
pub mod storage;
