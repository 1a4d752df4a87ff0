/**
 * The opt-in both targets render: the shop's current wording (from the app-data metafield
 * ShopNudge writes), an unticked box, the buyer's phone, and Save -> ShopNudge with the
 * extension's session token. Nothing renders until ShopNudge has written its configuration.
 */
import { useState } from "preact/hooks";

/** The part of the target's `shopify` API this extension uses (both targets provide it). */
export interface OptinApi {
  appMetafields: { value: ReadonlyArray<{ metafield: { namespace: string; key: string; value: unknown } }> };
  buyerIdentity?: { phone: { value: string | undefined } };
  localization: { language: { value: { isoCode: string } } };
  sessionToken: { get(): Promise<string> };
  i18n: { translate(key: string): unknown };
}

export interface Wording {
  version: number;
  text: string;
  privacy_url?: string | null;
}

export interface StorefrontConfig {
  server: string;
  store: string;
  default_locale: string;
  wordings: Record<string, Wording>;
}

export const NAMESPACE = "$app:shopnudge";
export const KEY = "storefront";
export const OPTIN_PATH = "/api/v1/shopify/checkout-optins";

/** ShopNudge's configuration from the app metafield, or null when it is absent or unreadable. */
export function readConfig(api: OptinApi): StorefrontConfig | null {
  const entry = api.appMetafields.value.find(
    (item) => item.metafield.namespace === NAMESPACE && item.metafield.key === KEY,
  );
  if (!entry) return null;
  try {
    const raw = entry.metafield.value;
    const config = (typeof raw === "string" ? JSON.parse(raw) : raw) as StorefrontConfig;
    return config && config.server && config.wordings ? config : null;
  } catch {
    return null;
  }
}

/** The wording for the buyer's language (de-AT -> de), else the shop's default one. */
export function pickWording(config: StorefrontConfig, isoCode: string): [string, Wording] | null {
  const language = isoCode.split("-")[0].toLowerCase();
  for (const locale of [isoCode, language, config.default_locale]) {
    const wording = config.wordings[locale];
    if (wording) return [locale, wording];
  }
  return null;
}

type Status = "idle" | "saving" | "pending" | "error";

/** The element an event came from, typed as the component it is. */
function field<Tag extends keyof HTMLElementTagNameMap>(event: Event): HTMLElementTagNameMap[Tag] {
  return event.currentTarget as HTMLElementTagNameMap[Tag];
}

export function Optin({ api }: { api: OptinApi }) {
  const config = readConfig(api);
  const picked = config && pickWording(config, api.localization.language.value.isoCode);
  const [ticked, setTicked] = useState(false);
  // the Order-status page's API has no buyerIdentity: the buyer types the number there
  const [phone, setPhone] = useState(("buyerIdentity" in api && api.buyerIdentity?.phone.value) || "");
  const [status, setStatus] = useState<Status>("idle");
  if (!config || !picked) return null;
  const [locale, wording] = picked;
  const t = (key: string) => String(api.i18n.translate(key));

  async function save() {
    setStatus("saving");
    try {
      const token = await api.sessionToken.get();
      const response = await fetch(`${config!.server}${OPTIN_PATH}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ phone, consent: true, wording_version: wording.version, locale }),
      });
      setStatus(response.status === 202 ? "pending" : "error");
    } catch {
      setStatus("error");
    }
  }

  if (status === "pending") return <s-banner tone="success">{t("pending")}</s-banner>;
  return (
    <s-stack gap="base">
      <s-checkbox
        label={wording.text}
        checked={ticked}
        onChange={(event) => setTicked(Boolean(field<"s-checkbox">(event).checked))}
      />
      <s-phone-field
        label={t("phone")}
        value={phone}
        onChange={(event) => setPhone(field<"s-phone-field">(event).value ?? "")}
      />
      {wording.privacy_url ? <s-link href={wording.privacy_url}>{t("privacy")}</s-link> : null}
      <s-button disabled={!ticked || !phone || status === "saving"} onClick={save}>
        {t("save")}
      </s-button>
      {status === "error" ? <s-banner tone="critical">{t("error")}</s-banner> : null}
    </s-stack>
  );
}
