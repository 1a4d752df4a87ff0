<?php
/**
 * The few WordPress functions the plugin's settings and wording fetch call, for PHPUnit
 * without a WordPress install: options live in memory, HTTP goes out for real (to a local
 * server standing in for ShopNudge), hooks are recorded.
 */

define( 'ABSPATH', __DIR__ . '/' );

$GLOBALS['shopnudge_test_options'] = array();
$GLOBALS['shopnudge_test_actions'] = array();
$GLOBALS['shopnudge_test_locale']  = 'de_DE';

class WP_Error {
	public function __construct( public string $code = '', public string $message = '' ) {}
}

function add_action( $hook, $callback, $priority = 10, $args = 1 ) {
	$GLOBALS['shopnudge_test_actions'][ $hook ][] = $callback;
	return true;
}
function register_setting( $group, $name, $args = array() ) {}
function add_options_page( ...$args ) {}
function get_option( $name, $default = false ) {
	return array_key_exists( $name, $GLOBALS['shopnudge_test_options'] ) ? $GLOBALS['shopnudge_test_options'][ $name ] : $default;
}
function update_option( $name, $value, $autoload = null ) {
	$GLOBALS['shopnudge_test_options'][ $name ] = $value;
	return true;
}
function wp_parse_url( $url ) {
	return parse_url( $url );
}
function determine_locale() {
	return $GLOBALS['shopnudge_test_locale'];
}
function is_wp_error( $thing ) {
	return $thing instanceof WP_Error;
}
function wp_remote_get( $url, $args = array() ) {
	$context = stream_context_create(
		array( 'http' => array( 'timeout' => $args['timeout'] ?? 5, 'ignore_errors' => true ) )
	);
	$body    = @file_get_contents( $url, false, $context );
	if ( $body === false ) {
		return new WP_Error( 'http_request_failed', 'no answer' );
	}
	preg_match( '#^HTTP/\S+ (\d+)#', $http_response_header[0] ?? '', $status );
	return array(
		'body'     => $body,
		'response' => array( 'code' => (int) ( $status[1] ?? 0 ) ),
	);
}
function wp_remote_retrieve_response_code( $response ) {
	return is_array( $response ) ? $response['response']['code'] : '';
}
function wp_remote_retrieve_body( $response ) {
	return is_array( $response ) ? $response['body'] : '';
}

require_once dirname( __DIR__ ) . '/includes/class-shopnudge-settings.php';
require_once dirname( __DIR__ ) . '/includes/class-shopnudge-wording.php';
