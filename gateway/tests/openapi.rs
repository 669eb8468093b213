//! Issue 15, *a contract others can test against*: `/api/openapi.json` is an OpenAPI 3.1
//! description, served without a login, that describes every route of the JSON API — so a
//! route added without a description fails here — and only routes that exist, with the signing
//! rules in its text. (`scripts/contract.sh` then fuzzes a live gateway against it.)

mod support;

use std::collections::BTreeSet;

use serde_json::Value;

/// The description, as a client fetches it from a real gateway.
async fn description(gateway: &support::Gateway) -> Value {
    let response = gateway
        .client
        .get(format!("{}/api/openapi.json", gateway.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "/api/openapi.json is served");
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(kind.starts_with("application/json"), "{kind}");
    serde_json::from_slice(&response.bytes().await.unwrap()).expect("the description is JSON")
}

/// `(method, path)` of every operation the description has.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                found.insert((method.to_owned(), path.clone()));
            }
        }
    }
    found
}

/// The routes the JSON API's router declares, read from its source: every
/// `.route("<path>", <method>(...))` of the modules of `src/http/`, under the prefix its module
/// is mounted at in `http/mod.rs` (`/api`, or `/api/v1` for the signed protocol). `any` is
/// written as `any`: some documented method must cover it.
fn declared_routes() -> BTreeSet<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/http");
    let mounts = std::fs::read_to_string(format!("{dir}/mod.rs")).unwrap();
    let (api, protocol) = mounts
        .split_once("fn protocol_router")
        .expect("http/mod.rs mounts the signed protocol in protocol_router");
    let merged = |text: &str| -> BTreeSet<String> {
        text.split(".merge(")
            .skip(1)
            .filter_map(|rest| rest.split_once("::router()").map(|(m, _)| m.to_owned()))
            .collect()
    };
    let (api, protocol) = (merged(api), merged(protocol));
    let mut routes = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let module = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        for rest in text.split(".route(\"").skip(1) {
            let (route, rest) = rest.split_once('"').unwrap();
            let prefix = if protocol.contains(&module) {
                "/api/v1"
            } else if api.contains(&module) {
                "/api"
            } else {
                panic!("http/{module}.rs declares {route} but http/mod.rs mounts it nowhere known");
            };
            let methods = rest
                .split_once(')')
                .map(|(handlers, _)| handlers)
                .unwrap_or_default();
            for method in ["get", "post", "put", "patch", "delete", "any"] {
                if methods.contains(&format!("{method}(")) {
                    routes.insert((method.to_owned(), format!("{prefix}{route}")));
                }
            }
        }
    }
    assert!(!routes.is_empty(), "no routes found in {dir}");
    routes
}

#[tokio::test]
async fn the_description_is_openapi_3_1_with_the_signing_rules() {
    let gateway = support::start().await;
    let doc = description(&gateway).await;
    let version = doc["openapi"].as_str().unwrap();
    assert!(version.starts_with("3.1."), "OpenAPI {version}");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let text = doc["info"]["description"].as_str().unwrap();
    for rule in [
        "x-tolem-key",
        "x-tolem-signature",
        "x-tolem-bind",
        "request-sha256",
        "exact body bytes",
        "tolem-answer-to-sha256",
    ] {
        assert!(text.contains(rule), "the description explains {rule}");
    }

    // Every reference names a schema the description has, and every operation answers
    // something documented.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let all = doc.to_string();
    for reference in all.split("\"$ref\":\"").skip(1) {
        let target = reference.split('"').next().unwrap();
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected reference {target}"));
        assert!(schemas.contains_key(name), "{target} is not defined");
    }
    for (method, path) in operations(&doc) {
        let responses = &doc["paths"][&path][&method]["responses"];
        assert!(
            responses.as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path} documents no response"
        );
    }
    // The answer's code is described with its numbers, the signed request with its step.
    let codes = &schemas["ResultCode"];
    assert!(
        codes["enum"]
            .as_array()
            .unwrap()
            .contains(&Value::from(999))
    );
    assert!(schemas.contains_key("Request") && schemas.contains_key("Step"));
}

#[tokio::test]
async fn every_api_route_is_described_and_every_description_is_a_route() {
    let gateway = support::start().await;
    let doc = description(&gateway).await;
    let documented = operations(&doc);

    for (method, path) in declared_routes() {
        let covered = if method == "any" {
            documented.iter().any(|(_, p)| *p == path)
        } else {
            documented.contains(&(method.clone(), path.clone()))
        };
        assert!(
            covered,
            "{method} {path} is served but not in /api/openapi.json: add #[utoipa::path] to \
             its handler and list it in http/openapi.rs"
        );
    }

    // And nothing is described that the router does not serve: each documented operation, sent
    // to the real gateway, reaches a handler (not the API's 404 fallback, not 405).
    for (method, path) in &documented {
        let url = format!(
            "{}{}",
            gateway.url,
            path.replace("{service}", "tiptop")
                .replace("{kind}", "check")
        );
        let request = match method.as_str() {
            "get" => gateway.client.get(&url),
            "post" => gateway.client.post(&url).body("{}"),
            other => panic!("{other} {path}: an unexpected method"),
        };
        let response = request.send().await.unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_ne!(status, 405, "{method} {path} is documented but not routed");
        assert!(
            !(status == 404 && body.contains("not_found")),
            "{method} {path} is documented but the router has no such route"
        );
    }
}
