//! Every database scenario runs on both engines.

/// One test per scenario and engine, `sqlite::<scenario>` and `postgres::<scenario>`, each on
/// a fresh database: `setup` (a path seen from the calling module, such as `setup` or
/// `Env::new`) turns the fixture into what the scenario takes; `runtime` is what goes in
/// `#[tokio::test(…)]`.
macro_rules! on_both_engines {
    (setup = $setup:path, runtime = $runtime:tt; $($name:ident),+ $(,)?) => {
        mod sqlite {
            use super::*;
            $(#[tokio::test $runtime]
              async fn $name() {
                  super::$name($setup(tmcp_contract_tests::engines::sqlite().await).await).await;
              })+
        }
        mod postgres {
            use super::*;
            $(#[tokio::test $runtime]
              async fn $name() {
                  super::$name($setup(tmcp_contract_tests::engines::postgres().await).await).await;
              })+
        }
    };
}
pub(crate) use on_both_engines;
