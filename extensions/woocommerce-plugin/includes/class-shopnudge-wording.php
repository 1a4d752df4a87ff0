<?php
/**
 * The checkbox label: the shop's current opt-in wording from ShopNudge, cached in an option.
 *
 * The label must be exactly the text ShopNudge holds as that version, so it is never edited
 * here; its version goes into the order beside the tick.
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

class ShopNudge_Wording {
	/** Refetch after an hour; a failed fetch keeps the cached wording (it is still valid). */
	const LIFETIME = 3600;
	const OPTION_PREFIX = 'shopnudge_wording_';

	/** @var callable(): int */
	private $clock;

	public function __construct( ?callable $clock = null ) {
		$this->clock = $clock ?? 'time';
	}

	/** The wording for a WordPress locale (de_DE -> de): text, version, locale; null if none. */
	public function for_locale( string $wp_locale ): ?array {
		$language = strtolower( substr( $wp_locale, 0, 2 ) );
		$option   = self::OPTION_PREFIX . $language;
		$cached   = get_option( $option, null );
		$now      = ( $this->clock )();
		if ( is_array( $cached ) && $now - (int) $cached['fetched_at'] < self::LIFETIME ) {
			return $cached['wording'];
		}
		$fetched = $this->fetch( $language );
		if ( $fetched === null ) {
			return is_array( $cached ) ? $cached['wording'] : null;
		}
		update_option(
			$option,
			array(
				'wording'    => $fetched,
				'fetched_at' => $now,
			),
			false
		);
		return $fetched;
	}

	private function fetch( string $language ): ?array {
		if ( ! ShopNudge_Settings::configured() ) {
			return null;
		}
		$url      = sprintf(
			'%s/api/v1/stores/%s/optin-form?locale=%s',
			ShopNudge_Settings::server(),
			rawurlencode( ShopNudge_Settings::store_key() ),
			rawurlencode( $language )
		);
		$response = wp_remote_get( $url, array( 'timeout' => 5 ) );
		if ( is_wp_error( $response ) || wp_remote_retrieve_response_code( $response ) !== 200 ) {
			return null;
		}
		$body = json_decode( wp_remote_retrieve_body( $response ), true );
		if ( ! is_array( $body ) || ! isset( $body['text'], $body['wording_version'], $body['locale'] ) ) {
			return null;
		}
		return array(
			'text'        => (string) $body['text'],
			'version'     => (int) $body['wording_version'],
			'locale'      => (string) $body['locale'],
			'privacy_url' => (string) ( $body['privacy_url'] ?? '' ),
		);
	}
}
