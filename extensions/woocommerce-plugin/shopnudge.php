<?php
/**
 * Plugin Name:       ShopNudge WhatsApp opt-in
 * Description:       Asks buyers at checkout whether they want WhatsApp updates, in the shop's own ShopNudge wording; ShopNudge reads the answer from the order and confirms it by double opt-in.
 * Version:           1.0.0
 * Requires at least: 6.4
 * Requires PHP:      8.1
 * WC requires at least: 8.9
 * License:           MIT
 * Text Domain:       shopnudge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

require_once __DIR__ . '/includes/class-shopnudge-settings.php';
require_once __DIR__ . '/includes/class-shopnudge-wording.php';
require_once __DIR__ . '/includes/class-shopnudge-checkout.php';

// HPOS and the block checkout: this plugin uses only WooCommerce's CRUD and documented APIs.
add_action(
	'before_woocommerce_init',
	static function (): void {
		if ( class_exists( \Automattic\WooCommerce\Utilities\FeaturesUtil::class ) ) {
			\Automattic\WooCommerce\Utilities\FeaturesUtil::declare_compatibility( 'custom_order_tables', __FILE__, true );
			\Automattic\WooCommerce\Utilities\FeaturesUtil::declare_compatibility( 'cart_checkout_blocks', __FILE__, true );
		}
	}
);

ShopNudge_Settings::register();
ShopNudge_Checkout::register( new ShopNudge_Wording() );
