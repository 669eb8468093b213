//! Guards Settings → Commission in a real browser: every wrong field is named in Russian —
//! amounts that are not amounts, and the rules of `CommissionSettings::validate` (a percentage
//! from 0 to 100, a minimum that is a minimum, a maximum that is a maximum, thresholds in
//! order); right settings are saved to the phone; *Back* leaves without saving.
#![cfg(target_arch = "wasm32")]

mod support;

use support::catalogue::keep_sample_catalogue;
use support::*;
use tolem::storage::commission;
use tolem_protocol::commission::{CommissionSettings, Formula};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn wrong_settings_are_explained_and_right_ones_saved() {
    keep_sample_catalogue().await;
    commission::save("tele2", &CommissionSettings::default())
        .await
        .unwrap();
    let app = start_in_russian_at("/settings/commission/tele2");
    wait_for("#commission-form", 5).await;
    assert_eq!(text_of("#commission-provider"), "Tele2");

    type_into("#commission-percent", "150");
    type_into("#commission-max-fixed", "сто");
    tap("#commission-save");
    settle().await;
    assert_eq!(
        text_of("#commission-max-fixed-error"),
        "Сумма — это число, например 2000 или 1 500,50."
    );
    type_into("#commission-max-fixed", "");
    tap("#commission-save");
    settle().await;
    assert_eq!(
        text_of("#commission-percent-error"),
        "Процент должен быть от 0 до 100."
    );

    // 1 % of 1 000 tenge is 10 tenge: a "minimum" of 5 is not one.
    type_into("#commission-percent", "1");
    type_into("#commission-min-below", "1000");
    type_into("#commission-min-fixed", "5");
    tap("#commission-save");
    settle().await;
    assert!(find("#commission-percent-error").is_none());
    assert_eq!(
        text_of("#commission-min-fixed-error"),
        "Минимальная комиссия не может быть меньше процента от своей суммы-порога."
    );

    type_into("#commission-min-fixed", "10");
    type_into("#commission-max-above", "500");
    type_into("#commission-max-fixed", "5");
    tap("#commission-save");
    settle().await;
    assert_eq!(
        text_of("#commission-max-above-error"),
        "Порог максимальной комиссии должен быть выше порога минимальной."
    );

    type_into("#commission-max-above", "50 000");
    type_into("#commission-max-fixed", "600");
    tap("#commission-save");
    settle().await;
    assert_eq!(
        text_of("#commission-max-fixed-error"),
        "Максимальная комиссия не может быть больше процента от своей суммы-порога."
    );

    type_into("#commission-max-fixed", "400");
    tap("#commission-formula-included");
    tap("#commission-save");
    wait_for("#commission-saved", 5).await;
    assert_eq!(
        text_of("#commission-saved"),
        "Настройки комиссии сохранены."
    );
    assert_eq!(
        commission::load("tele2").await,
        CommissionSettings {
            percent_bp: 100,
            formula: Formula::Included,
            min_below_tiyn: 1_000_00,
            min_fixed_tiyn: 10_00,
            max_above_tiyn: 50_000_00,
            max_fixed_tiyn: 400_00,
        }
    );

    // Back without saving: what was typed is forgotten.
    type_into("#commission-percent", "3");
    tap("#commission-back");
    settle().await;
    assert_eq!(commission::load("tele2").await.percent_bp, 100);
    wait_for("#commission-tele2", 5).await;
    assert!(text_of("#commission-tele2").contains("1\u{a0}% включена"));
    drop(app);
}
