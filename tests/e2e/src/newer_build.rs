//! A second, newer build of the app made from the first, as a deploy of the next version would be.

use std::fs;
use std::path::Path;

/// Copies `dist` into `target` and turns it into the next version: a new service-worker version
/// and a visibly different index.html (`<meta name="tolem-build" content="next">`). Compressed
/// copies of the changed files are removed so the gateway cannot serve the old bytes.
pub fn newer_build(dist: &Path, target: &Path) {
    copy_build(dist, target);
    let sw = target.join("sw.js");
    let script = fs::read_to_string(&sw).expect("sw.js in the build");
    let version_line = script
        .lines()
        .find(|l| l.starts_with("const VERSION = '"))
        .expect("a VERSION line in sw.js");
    let next = version_line.replace("';", "-next';");
    fs::write(&sw, script.replace(version_line, &next)).unwrap();

    let index = target.join("index.html");
    let page = fs::read_to_string(&index).unwrap();
    fs::write(
        &index,
        page.replacen(
            "<head>",
            "<head><meta name=\"tolem-build\" content=\"next\">",
            1,
        ),
    )
    .unwrap();

    for changed in ["sw.js", "index.html"] {
        for suffix in ["br", "gz"] {
            let _ = fs::remove_file(target.join(format!("{changed}.{suffix}")));
        }
    }
}

/// A copy of the build `from` in `to`, for a test to change.
pub fn copy_build(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let destination = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_build(&path, &destination);
        } else {
            fs::copy(&path, &destination).unwrap();
        }
    }
}
