/// <reference types="@shopify/ui-extensions/purchase.thank-you.block.render" />
import { fireEvent, waitFor } from "@testing-library/preact";
import { getExtension } from "@shopify/ui-extensions-tester";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";

const CONFIG = {
  server: "https://nudge.example.com",
  store: "k3y",
  proxy: "/apps/shopnudge",
  business: "Bohne & Blatt",
  default_locale: "de",
  wordings: {
    de: { version: 3, text: "Ja, Bohne & Blatt darf mir WhatsApp-Nachrichten senden.", privacy_url: "" },
    en: { version: 2, text: "Yes, Bohne & Blatt may send me WhatsApp messages.", privacy_url: "" },
  },
};

/** A signal as the host hands it out (the tester's mocks do not run subscriptions). */
function signal<T>(value: T) {
  return { value, subscribe: () => () => undefined };
}

function configured(extension: { shopify: any }, phone?: string, language = "de-DE") {
  extension.shopify.appMetafields.value = [
    {
      target: { type: "shop", id: "gid://shopify/Shop/1" },
      metafield: { namespace: "$app:shopnudge", key: "storefront", value: JSON.stringify(CONFIG), type: "json" },
    },
  ];
  extension.shopify.localization.language.value = { isoCode: language };
  if (phone && extension.shopify.extension.target === "purchase.thank-you.block.render") {
    // present only with protected customer data (level 2 for the phone)
    const buyerIdentity = {
      phone: signal(phone),
      email: signal(undefined),
      customer: signal(undefined),
      purchasingCompany: signal(undefined),
    };
    Object.defineProperty(extension.shopify, "buyerIdentity", { value: buyerIdentity, configurable: true });
  }
  extension.shopify.sessionToken.get = vi.fn().mockResolvedValue("session-token-1");
}

/** The buyer types the number (the Order-status page has none to prefill). */
function typePhone() {
  const field = document.body.querySelector("s-phone-field")! as any;
  field.value = "+4915123456789";
  fireEvent.change(field);
}

for (const target of [
  "purchase.thank-you.block.render",
  "customer-account.order-status.block.render",
] as const) {
  describe(target, () => {
    const extension = getExtension(target);
    beforeEach(() => extension.setUp());
    afterEach(() => extension.tearDown());

    test("renders nothing until ShopNudge has written its configuration", async () => {
      extension.shopify.appMetafields.value = [];

      await extension.render();

      expect(document.body.querySelector("s-checkbox")).toBeNull();
      expect(document.body.textContent).toBe("");
    });

    test("shows the shop's wording in the buyer's language, unticked, with the phone prefilled", async () => {
      configured(extension, "+4915123456789");

      await extension.render();

      const box = document.body.querySelector("s-checkbox")!;
      expect(box.getAttribute("label")).toBe(CONFIG.wordings.de.text);
      expect(box.hasAttribute("checked")).toBe(false);
      const phone = document.body.querySelector("s-phone-field")!;
      const prefilled = target === "purchase.thank-you.block.render" ? "+4915123456789" : "";
      expect(phone.getAttribute("value") ?? "").toBe(prefilled);
      expect(document.body.querySelector("s-button")!.hasAttribute("disabled")).toBe(true);
    });

    test("Save posts the opt-in with the session token and shows the next step", async () => {
      configured(extension, "+4915123456789", "en");
      const fetch = vi.fn().mockResolvedValue(new Response("{}", { status: 202 }));
      extension.fetch = fetch;

      await extension.render();
      const box = document.body.querySelector("s-checkbox")! as any;
      box.checked = true;
      fireEvent.change(box);
      typePhone();
      await waitFor(() => expect(document.body.querySelector("s-button")!.hasAttribute("disabled")).toBe(false));
      fireEvent.click(document.body.querySelector("s-button")!);

      await waitFor(() => expect(document.body.querySelector("s-banner")?.textContent).toBe("pending"));
      expect(fetch).toHaveBeenCalledTimes(1);
      const [url, init] = fetch.mock.calls[0];
      expect(url).toBe("https://nudge.example.com/api/v1/shopify/checkout-optins");
      expect(init.method).toBe("POST");
      expect(init.headers.Authorization).toBe("Bearer session-token-1");
      expect(JSON.parse(init.body)).toEqual({
        phone: "+4915123456789",
        consent: true,
        wording_version: 2,
        locale: "en",
      });
    });

    test("a refusal shows the error and keeps the form", async () => {
      configured(extension, "+4915123456789");
      extension.fetch = vi.fn().mockResolvedValue(new Response("{}", { status: 422 }));

      await extension.render();
      const box = document.body.querySelector("s-checkbox")! as any;
      box.checked = true;
      fireEvent.change(box);
      typePhone();
      await waitFor(() => expect(document.body.querySelector("s-button")!.hasAttribute("disabled")).toBe(false));
      fireEvent.click(document.body.querySelector("s-button")!);

      await waitFor(() =>
        expect(document.body.querySelector("s-banner[tone=critical]")?.textContent).toBe("error"),
      );
      expect(document.body.querySelector("s-checkbox")).not.toBeNull();
    });
  });
}
