//! The mini-app store's routes (docs/store.md, docs/store_packages.md).

pub mod packages;
