<?php
/**
 * The WhatsApp opt-in at checkout: an unticked, optional checkbox with the shop's wording.
 *
 * Block checkout: the Additional Checkout Fields API (WooCommerce 8.9+); the tick is stored in
 * the order meta as `_wc_other/shopnudge/whatsapp-optin`. Classic checkout: the
 * `woocommerce_review_order_before_submit` hook, saved under the same meta key. Either way the
 * wording's version and locale are stored beside it, and the order reaches ShopNudge in its
 * signed order.created webhook.
 * https://developer.woocommerce.com/docs/block-development/extensible-blocks/cart-and-checkout-blocks/additional-checkout-fields/
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

class ShopNudge_Checkout {
	const OPTIN_FIELD = 'shopnudge/whatsapp-optin';
	const PHONE_FIELD = 'shopnudge/whatsapp-phone';
	const OPTIN_META = '_wc_other/shopnudge/whatsapp-optin';
	const PHONE_META = '_wc_other/shopnudge/whatsapp-phone';
	const VERSION_META = '_shopnudge_wording_version';
	const LOCALE_META = '_shopnudge_wording_locale';
	const CLASSIC_OPTIN = 'shopnudge_whatsapp_optin';
	const CLASSIC_PHONE = 'shopnudge_whatsapp_phone';

	/** @var ShopNudge_Wording */
	private static $wording;

	public static function register( ShopNudge_Wording $wording ): void {
		self::$wording = $wording;
		add_action( 'woocommerce_init', array( self::class, 'register_block_fields' ) );
		add_action( 'woocommerce_set_additional_field_value', array( self::class, 'store_version' ), 10, 4 );
		add_action( 'woocommerce_review_order_before_submit', array( self::class, 'render_classic' ) );
		add_action( 'woocommerce_checkout_create_order', array( self::class, 'save_classic' ), 10, 2 );
	}

	/** The wording for the buyer's language now, or null (then nothing is asked). */
	public static function wording(): ?array {
		return self::$wording->for_locale( determine_locale() );
	}

	/** Whether the checkout asks for a phone already (WooCommerce's own setting). */
	public static function checkout_has_phone(): bool {
		return get_option( 'woocommerce_checkout_phone_field', 'required' ) !== 'hidden';
	}

	public static function register_block_fields(): void {
		$wording = self::wording();
		if ( $wording === null || ! function_exists( 'woocommerce_register_additional_checkout_field' ) ) {
			return;
		}
		woocommerce_register_additional_checkout_field(
			array(
				'id'       => self::OPTIN_FIELD,
				'label'    => $wording['text'],
				'location' => 'order',
				'type'     => 'checkbox',
				'required' => false,
			)
		);
		if ( ! self::checkout_has_phone() ) {
			woocommerce_register_additional_checkout_field(
				array(
					'id'       => self::PHONE_FIELD,
					'label'    => __( 'Mobile number for WhatsApp', 'shopnudge' ),
					'location' => 'order',
					'type'     => 'text',
					'required' => false,
				)
			);
		}
	}

	/** Beside a ticked box, the version and locale of the wording its label showed. */
	public static function store_version( $key, $value, $group, $wc_object ): void {
		if ( $key !== self::OPTIN_FIELD || ! $value || ! $wc_object instanceof WC_Data ) {
			return;
		}
		$wording = self::wording();
		if ( $wording !== null ) {
			$wc_object->update_meta_data( self::VERSION_META, (string) $wording['version'] );
			$wc_object->update_meta_data( self::LOCALE_META, $wording['locale'] );
		}
	}

	public static function render_classic(): void {
		$wording = self::wording();
		if ( $wording === null ) {
			return;
		}
		printf(
			'<p class="form-row shopnudge-optin"><label class="woocommerce-form__label woocommerce-form__label-for-checkbox checkbox"><input type="checkbox" class="woocommerce-form__input woocommerce-form__input-checkbox input-checkbox" name="%s" value="1"> <span>%s</span></label></p>',
			esc_attr( self::CLASSIC_OPTIN ),
			esc_html( $wording['text'] )
		);
		if ( ! self::checkout_has_phone() ) {
			printf(
				'<p class="form-row"><label>%s<br><input type="tel" class="input-text" name="%s" autocomplete="tel"></label></p>',
				esc_html__( 'Mobile number for WhatsApp', 'shopnudge' ),
				esc_attr( self::CLASSIC_PHONE )
			);
		}
	}

	/** The classic form's tick, stored as the block checkout stores it. */
	public static function save_classic( $order, $data ): void {
		// phpcs:ignore WordPress.Security.NonceVerification.Missing -- WooCommerce checked the checkout nonce.
		if ( empty( $_POST[ self::CLASSIC_OPTIN ] ) ) {
			return;
		}
		$wording = self::wording();
		if ( $wording === null ) {
			return;
		}
		$order->update_meta_data( self::OPTIN_META, '1' );
		$order->update_meta_data( self::VERSION_META, (string) $wording['version'] );
		$order->update_meta_data( self::LOCALE_META, $wording['locale'] );
		// phpcs:ignore WordPress.Security.NonceVerification.Missing
		$phone = sanitize_text_field( wp_unslash( $_POST[ self::CLASSIC_PHONE ] ?? '' ) );
		if ( $phone !== '' ) {
			$order->update_meta_data( self::PHONE_META, $phone );
		}
	}
}
