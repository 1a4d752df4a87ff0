<?php
/**
 * Settings > ShopNudge: the ShopNudge server's address and the shop's store key.
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

class ShopNudge_Settings {
	const SERVER = 'shopnudge_server';
	const STORE_KEY = 'shopnudge_store_key';
	const PAGE = 'shopnudge';

	public static function register(): void {
		add_action( 'admin_init', array( self::class, 'register_settings' ) );
		add_action( 'admin_menu', array( self::class, 'add_page' ) );
	}

	public static function register_settings(): void {
		register_setting(
			self::PAGE,
			self::SERVER,
			array(
				'type'              => 'string',
				'sanitize_callback' => array( self::class, 'sanitize_server' ),
				'default'           => '',
			)
		);
		register_setting(
			self::PAGE,
			self::STORE_KEY,
			array(
				'type'              => 'string',
				'sanitize_callback' => array( self::class, 'sanitize_store_key' ),
				'default'           => '',
			)
		);
	}

	/** An https address without a trailing slash; anything else is refused (''). */
	public static function sanitize_server( $value ): string {
		$value = rtrim( trim( (string) $value ), '/' );
		$parts = wp_parse_url( $value );
		if ( ! is_array( $parts ) || ( $parts['scheme'] ?? '' ) !== 'https' || empty( $parts['host'] ) ) {
			return '';
		}
		return $value;
	}

	/** Store keys are the letters, digits, - and _ that ShopNudge issues. */
	public static function sanitize_store_key( $value ): string {
		$value = trim( (string) $value );
		return preg_match( '/^[A-Za-z0-9_-]{8,64}$/', $value ) ? $value : '';
	}

	public static function server(): string {
		return (string) get_option( self::SERVER, '' );
	}

	public static function store_key(): string {
		return (string) get_option( self::STORE_KEY, '' );
	}

	public static function configured(): bool {
		return self::server() !== '' && self::store_key() !== '';
	}

	public static function add_page(): void {
		add_options_page( 'ShopNudge', 'ShopNudge', 'manage_options', self::PAGE, array( self::class, 'render_page' ) );
	}

	public static function render_page(): void {
		echo '<div class="wrap"><h1>ShopNudge</h1><form method="post" action="options.php">';
		settings_fields( self::PAGE );
		printf(
			'<p><label>%s<br><input type="url" class="regular-text" name="%s" value="%s" placeholder="https://nudge.example.com"></label></p>',
			esc_html__( 'ShopNudge server', 'shopnudge' ),
			esc_attr( self::SERVER ),
			esc_attr( self::server() )
		);
		printf(
			'<p><label>%s<br><input type="text" class="regular-text" name="%s" value="%s"></label></p>',
			esc_html__( 'Store key (shopnudge stores list)', 'shopnudge' ),
			esc_attr( self::STORE_KEY ),
			esc_attr( self::store_key() )
		);
		submit_button();
		echo '</form></div>';
	}
}
