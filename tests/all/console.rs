//! The web console in a real headless Chromium (Debian's `chromium`, driven
//! through `chromedriver` over WebDriver): an operator installs a plugin,
//! creates tenants and binds a slot; a tenant uploads inputs and submits a
//! caption job, watches it complete without reloading and plays it; edits an
//! ad's scenes and sees exactly the changed scenes render again; and another
//! tenant sees none of it. Each page's screenshot is saved under
//! `target/console-screenshots/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use kino_runtime::plugins;
use kino_tests::{bundled_plugins, plugin_path, test_video, workspace_root};

const ADMIN_TOKEN: &str = "console-admin-token";

const TRANSCRIPT: &str = "1
00:00:00,300 --> 00:00:01,800
Good morning, my friend.

2
00:00:02,000 --> 00:00:03,600
See you tomorrow.
";

/// A child process killed when the test ends, however it ends.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Waits until something listens on `port`.
fn until_listening(port: u16, child: &mut Child, what: &str) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(exit)) = child.try_wait() {
            panic!("{what} exited ({exit})");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what} never listened"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `kino serve` on SQLite in `dir`, on a free port, taking unsigned plugins.
fn serve(dir: &Path) -> (Process, String) {
    let port = free_port();
    let config = dir.join("kino.toml");
    std::fs::write(&config, "signature-policy = \"optional\"\n").expect("config");
    let log = std::fs::File::create(dir.join("serve.log")).expect("serve log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kino-cli"))
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .env("KINO_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("KINO_LISTEN", format!("127.0.0.1:{port}"))
        .env("KINO_DATA_DIR", dir.join("data"))
        .env("KINO_PLUGINS", &bundled_plugins().components)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn kino serve");
    until_listening(port, &mut child, "kino serve");
    (Process(child), format!("http://127.0.0.1:{port}"))
}

/// Chromium, headless, through chromedriver; screenshots go to `shots`.
struct Browser {
    client: Client,
    base: String,
    shots: PathBuf,
    _driver: Process,
}

impl Browser {
    async fn open(base: &str) -> Browser {
        let port = free_port();
        let mut driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chromedriver");
        until_listening(port, &mut driver, "chromedriver");
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1366,900", "--autoplay-policy=no-user-gesture-required",
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session");
        let shots = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .expect("the target dir")
            .join("console-screenshots");
        std::fs::create_dir_all(&shots).expect("screenshot dir");
        Browser {
            client,
            base: base.to_owned(),
            shots,
            _driver: Process(driver),
        }
    }

    async fn go(&self, route: &str) {
        self.client
            .goto(&format!("{}/console/{route}", self.base))
            .await
            .expect("navigate");
    }

    /// Evaluates `script` (a function body) with `args`.
    async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client.execute(script, args).await.expect(script)
    }

    /// Waits until `condition` (a JS expression) is true, failing with the
    /// page's status line and a screenshot after `limit`.
    async fn until(&self, condition: &str, limit: Duration) {
        let started = Instant::now();
        loop {
            if self.js(&format!("return !!({condition});"), vec![]).await == json!(true) {
                return;
            }
            if started.elapsed() > limit {
                self.shot("timed-out").await;
                let status = self.js("return document.body.innerText;", vec![]).await;
                panic!(
                    "never true: {condition}; the page says:\n{}",
                    status.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
    }

    /// Runs `act` on the element `css`, finding it again when the console
    /// re-rendered it between the find and the act (a stale reference:
    /// the page redraws as data arrives).
    async fn on<T, Act>(&self, css: &str, act: impl Fn(fantoccini::elements::Element) -> Act) -> T
    where
        Act: std::future::Future<Output = Result<T, fantoccini::error::CmdError>>,
    {
        let mut tries = 0;
        loop {
            match act(self.find(css).await).await {
                Ok(value) => return value,
                Err(e) if e.is_stale_element_reference() && tries < 20 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("{css}: {e}"),
            }
        }
    }

    async fn click(&self, css: &str) {
        self.on(css, |e| async move { e.click().await }).await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        element.clear().await.expect("clear");
        element.send_keys(text).await.expect(css);
    }

    /// Chooses the option `value` of the select `css`.
    async fn select(&self, css: &str, value: &str) {
        self.find(css)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("no option {value} in {css}: {e}"));
    }

    /// Chooses the file at `path` in the file input `css`.
    async fn attach(&self, css: &str, path: &str) {
        self.find(css)
            .await
            .send_keys(path)
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
    }

    async fn text(&self, css: &str) -> String {
        self.on(css, |e| async move { e.text().await }).await
    }

    async fn sign_in(&self, token: &str) {
        self.go("#/signin").await;
        if self.client.find(Locator::Css("#sign-out")).await.is_ok() {
            self.click("#sign-out").await;
        }
        self.type_into("#token", token).await;
        self.click("#signin button[type=submit]").await;
        self.find("#sign-out").await;
    }

    /// Chooses `slot` and the version 0.1.0 of `plugin` in the bind form,
    /// once the form has made the plugin's config fields.
    async fn bind(&self, slot: &str, plugin: &str) {
        self.select("#bind-slot", slot).await;
        let option = format!("{plugin}@=0.1.0");
        self.until(
            &format!("document.querySelector('#bind-plugin option[value=\"{option}\"]')"),
            Duration::from_secs(10),
        )
        .await;
        self.select("#bind-plugin", &option).await;
        self.until(
            "document.querySelector('#bind [id^=config-]') || document.querySelector('#bind').innerText.includes('takes no config')",
            Duration::from_secs(10),
        )
        .await;
    }

    /// Waits until the job page's state is final, and says it completed.
    async fn until_finished(&self, limit: Duration) {
        self.until(
            "['completed', 'failed'].includes(document.querySelector('#job-state').innerText)",
            limit,
        )
        .await;
        let state = self.text("#job-state").await;
        if state != "completed" {
            self.shot("failed-job").await;
            panic!("the job {state}: {}", self.text("#job-error").await);
        }
    }

    async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(self.shots.join(format!("{name}.png")), png).expect("save screenshot");
    }
}

/// A plugin's package, packed from its source and built component.
fn package(dir: &Path, plugin: &str, package_name: &str) -> PathBuf {
    let archive = dir.join(format!("{plugin}.tar.gz"));
    plugins::pack(
        &workspace_root().join("plugins").join(plugin),
        Some(&plugin_path(package_name)),
        &archive,
    )
    .expect("pack");
    archive
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    any(
        missing = "ffmpeg",
        missing = "espeak-ng",
        missing = "chromium",
        missing = "chromedriver"
    ),
    ignore = "needs ffmpeg, espeak-ng, chromium and chromedriver (apt-get install ffmpeg espeak-ng chromium chromium-driver)"
)]
async fn an_operator_and_tenants_do_their_work_in_the_console() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_serve, base) = serve(dir.path());
    let browser = Browser::open(&base).await;

    // The operator: install plugins from their packages, with the upload form.
    browser.sign_in(ADMIN_TOKEN).await;
    browser.find("#plugins").await;
    for plugin in [
        "translator-openai",
        "script-arc",
        "director-styles",
        "grader-palette",
    ] {
        let name = format!("kino-{plugin}");
        let archive = package(dir.path(), plugin, &name);
        browser
            .attach("#plugin-upload input[type=file]", path_str(&archive))
            .await;
        browser.click("#plugin-upload button[type=submit]").await;
        browser
            .until(
                &format!("document.querySelector('[data-plugin=\"{name}@0.1.0\"]')"),
                Duration::from_secs(60),
            )
            .await;
    }
    browser.shot("operator-plugins").await;

    // Two tenants, each with a key shown once.
    let mut keys = Vec::new();
    for name in ["acme", "rival"] {
        browser.go("#/tenants").await;
        browser.type_into("#tenant-name", name).await;
        browser.click("#new-tenant button[type=submit]").await;
        browser.click("#issue-key").await;
        let key = browser.text("#issued-key").await;
        assert!(key.starts_with("kino_"), "{key}");
        keys.push(key);
        if name == "acme" {
            // What an ad needs, with each plugin's defaults.
            for (slot, plugin) in [
                ("script-strategy", "kino-script-arc"),
                ("director-style", "kino-director-styles"),
                ("grader", "kino-grader-palette"),
            ] {
                browser.bind(slot, plugin).await;
                browser.click("#bind button[type=submit]").await;
                browser
                    .until(
                        &format!("(b => b && b.innerText.includes('{plugin}'))(document.querySelector('#bindings'))"),
                        Duration::from_secs(10),
                    )
                    .await;
            }
        }
    }
    let [acme_key, rival_key] = [keys[0].clone(), keys[1].clone()];

    // A write-only secret: set, listed by name, never shown again.
    browser.type_into("#secret-name", "openai").await;
    browser
        .type_into("#secret-value", "sk-not-for-the-page")
        .await;
    browser.click("#secret button[type=submit]").await;
    browser
        .until(
            "document.querySelector('#secret-names')?.innerText.includes('openai')",
            Duration::from_secs(10),
        )
        .await;

    // Bind rival's translator slot with a form made from the manifest: a
    // value that is no integer is refused before it is sent, a good one
    // binds, granting the plugin its host with the secret injected.
    browser.bind("translator", "kino-translator-openai").await;
    browser.click("#grant-0").await;
    browser.select("#grant-0-secret", "openai").await;
    browser.type_into("#config-batch-size", "8.5").await;
    browser.click("#bind button[type=submit]").await;
    browser
        .until(
            "document.querySelector('#config-batch-size-problem').innerText.includes('integer')",
            Duration::from_secs(10),
        )
        .await;
    assert!(
        !browser
            .text("#bindings")
            .await
            .contains("kino-translator-openai"),
        "a refused config was bound"
    );
    browser.type_into("#config-batch-size", "8").await;
    browser.click("#bind button[type=submit]").await;
    browser
        .until(
            "document.querySelector('#bindings').innerText.includes('kino-translator-openai')",
            Duration::from_secs(10),
        )
        .await;
    let bindings = browser.text("#bindings").await;
    assert!(
        bindings.contains("https://api.openai.com, sending secret openai"),
        "{bindings}"
    );
    let page = browser
        .js("return document.documentElement.outerHTML;", vec![])
        .await;
    assert!(
        !page
            .as_str()
            .unwrap_or_default()
            .contains("sk-not-for-the-page"),
        "the secret's value is in the page"
    );
    browser.shot("operator-tenant").await;

    // The tenant: a caption job from the New job form, watched to the end
    // on its page, which is never reloaded.
    let video = dir.path().join("talk.mp4");
    test_video(&video, 4, "320x180", true);
    let srt = dir.path().join("talk.srt");
    std::fs::write(&srt, TRANSCRIPT).expect("srt");
    browser.sign_in(&acme_key).await;
    assert_eq!(browser.text("#signed-in-as").await, "Tenant acme");
    browser.go("#/new").await;
    browser.select("#pipeline", "caption").await;
    browser.attach("#input-video", path_str(&video)).await;
    browser.attach("#input-transcript", path_str(&srt)).await;
    browser.type_into("#input-animation", "pop").await;
    browser.shot("tenant-new-job").await;
    browser.click("#submit-job").await;
    browser.find("#job-state").await;
    browser
        .js("window.notReloaded = true; return null;", vec![])
        .await;
    browser.until_finished(Duration::from_secs(180)).await;
    assert_eq!(
        browser
            .js("return window.notReloaded === true;", vec![])
            .await,
        json!(true),
        "the page reloaded"
    );
    // The output plays, with its captions as a track.
    browser
        .until(
            "(v => v && v.readyState >= 2)(document.querySelector('video[data-output=\"captioned.mp4\"]'))",
            Duration::from_secs(30),
        )
        .await;
    let tracks = browser
        .js("return document.querySelector('video[data-output=\"captioned.mp4\"]').textTracks.length;", vec![])
        .await;
    assert_eq!(tracks, json!(1), "the captions ride on the video");
    browser
        .js(
            "document.querySelector('video[data-output=\"captioned.mp4\"]').play(); return null;",
            vec![],
        )
        .await;
    browser
        .until(
            "document.querySelector('video[data-output=\"captioned.mp4\"]').currentTime > 0.3",
            Duration::from_secs(20),
        )
        .await;
    let timeline = browser.text("#timeline").await;
    assert!(timeline.contains("burn"), "{timeline}");
    browser.shot("tenant-caption-job").await;
    let caption_url = browser.client.current_url().await.expect("url");
    let caption_job = caption_url
        .fragment()
        .unwrap_or_default()
        .trim_start_matches("/jobs/")
        .to_owned();

    // An ad, then its scene editor: swap the first two scenes and retitle
    // one of them, submit, and the edit's page names exactly those two as
    // rendered again; the third, untouched, comes from the cache.
    let brief = dir.path().join("brief.toml");
    let example = std::fs::read_to_string(workspace_root().join("examples/brief.toml"))
        .expect("example brief")
        .replace("target-length-s = 30", "target-length-s = 8");
    std::fs::write(&brief, example).expect("brief");
    let assets = workspace_root().join("examples/assets");
    browser.go("#/new").await;
    browser.select("#pipeline", "ad-creative").await;
    for (input, file) in [
        ("brief", brief.clone()),
        ("product", assets.join("product.png")),
        ("logo", assets.join("logo.png")),
    ] {
        browser
            .attach(&format!("#input-{input}"), path_str(&file))
            .await;
    }
    browser.type_into("#input-size", "320x180").await;
    browser.click("#submit-job").await;
    browser.find("#job-state").await;
    browser.until_finished(Duration::from_secs(300)).await;
    browser.click("#edit-scenes").await;
    browser
        .until(
            "[...document.querySelectorAll('#scenes canvas')].every(c => c.dataset.drawn)",
            Duration::from_secs(30),
        )
        .await;
    let before: Vec<u64> = serde_json::from_value(
        browser
            .js("return [...document.querySelectorAll('#scenes > li')].map(li => Number(li.dataset.scene));", vec![])
            .await,
    )
    .expect("scene ids");
    assert!(before.len() >= 3, "{before:?}");
    browser.click(&format!("#down-{}", before[0])).await;
    browser
        .type_into(&format!("#text-{}", before[1]), "Now with oat milk")
        .await;
    browser.shot("tenant-scene-editor").await;
    browser.click("#submit-edits").await;
    browser.find("#job-state").await;
    browser.until_finished(Duration::from_secs(300)).await;
    let rerendered = browser.find("#rerendered").await;
    let scenes = rerendered
        .attr("data-scenes")
        .await
        .expect("attr")
        .unwrap_or_default();
    let mut ran: Vec<u64> = scenes
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("an id"))
        .collect();
    ran.sort_unstable();
    let mut swapped = vec![before[0], before[1]];
    swapped.sort_unstable();
    assert_eq!(ran, swapped, "the scenes rendered again");
    let cached = browser.text("#rerendered").await;
    assert!(
        cached.contains(&format!("From the cache: scene {}", before[2])),
        "{cached}"
    );
    browser.find("#side-by-side").await;
    browser.shot("tenant-edit-side-by-side").await;

    // Another tenant sees none of acme's jobs, by list or by link.
    browser.sign_in(&rival_key).await;
    browser.find("#jobs").await;
    let rows = browser
        .js(
            "return document.querySelectorAll('#jobs tbody tr').length;",
            vec![],
        )
        .await;
    assert_eq!(rows, json!(0), "rival sees acme's jobs");
    browser.go(&format!("#/jobs/{caption_job}")).await;
    browser
        .until("document.body.innerText.includes('not found') || document.body.innerText.includes('no such job')", Duration::from_secs(10))
        .await;
    browser.shot("tenant-isolation").await;

    // The operator yanks the translator rival is bound to: the console asks
    // first, then says the binding keeps it until it is rebound.
    browser.sign_in(ADMIN_TOKEN).await;
    browser
        .click("[data-plugin=\"kino-translator-openai@0.1.0\"] button.danger")
        .await;
    browser
        .client
        .accept_alert()
        .await
        .expect("the confirmation");
    browser
        .until(
            "document.querySelector('[data-plugin=\"kino-translator-openai@0.1.0\"]').innerText.includes('yanked')",
            Duration::from_secs(10),
        )
        .await;
    let said = browser.text("#status").await;
    assert!(
        said.contains("Still bound until rebound: rival / translator"),
        "{said}"
    );
    browser
        .client
        .clone()
        .close()
        .await
        .expect("close the session");
}
