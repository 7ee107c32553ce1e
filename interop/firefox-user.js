// user.js for headless firefox-esr WebRTC interop on loopback (copied into a fresh profile)
// fake media, no permission prompt
user_pref("media.navigator.streams.fake", true);
user_pref("media.navigator.permission.disabled", true);
user_pref("media.autoplay.default", 0);
user_pref("media.autoplay.blocking_policy", 0);
// ICE on loopback with real addresses (no mDNS .local names)
user_pref("media.peerconnection.ice.loopback", true);
user_pref("media.peerconnection.ice.obfuscate_host_addresses", false);
user_pref("media.peerconnection.ice.default_address_only", false);
user_pref("media.peerconnection.ice.no_host", false);
user_pref("media.peerconnection.ice.proxy_only", false);
user_pref("media.peerconnection.ice.link_local", true);
// keep the browser quiet (nothing can leave the netns anyway)
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("browser.aboutwelcome.enabled", false);
user_pref("app.update.auto", false);
user_pref("app.update.enabled", false);
user_pref("app.normandy.enabled", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("datareporting.healthreport.uploadEnabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("toolkit.telemetry.unified", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("network.dns.disablePrefetch", true);
user_pref("network.prefetch-next", false);
user_pref("network.proxy.type", 0);
user_pref("browser.safebrowsing.malware.enabled", false);
user_pref("browser.safebrowsing.phishing.enabled", false);
user_pref("browser.safebrowsing.downloads.enabled", false);
user_pref("browser.safebrowsing.provider.google4.updateURL", "");
user_pref("browser.safebrowsing.provider.mozilla.updateURL", "");
user_pref("extensions.update.enabled", false);
user_pref("extensions.getAddons.cache.enabled", false);
user_pref("extensions.systemAddon.update.enabled", false);
user_pref("services.settings.server", "http://127.0.0.1:9/");
user_pref("media.gmp-manager.updateEnabled", false);
user_pref("media.gmp-manager.url", "http://127.0.0.1:9/");
user_pref("browser.region.network.url", "");
user_pref("browser.region.update.enabled", false);
user_pref("browser.newtabpage.enabled", false);
user_pref("browser.ping-centre.telemetry", false);
user_pref("dom.push.connection.enabled", false);
user_pref("browser.tabs.warnOnClose", false);
user_pref("browser.sessionstore.resume_from_crash", false);
user_pref("network.trr.mode", 5);
// needed? grant camera/mic so Firefox gathers all host addresses, not just the "default route" one
user_pref("permissions.default.camera", 1);
user_pref("permissions.default.microphone", 1);
// added for interop/run.py: literal host candidates (also set above), page console on stdout
user_pref("media.peerconnection.ice.obfuscate_host_addresses", false);
user_pref("devtools.console.stdout.content", true);
user_pref("browser.startup.page", 0);
user_pref("toolkit.startup.max_resumed_crashes", -1);
