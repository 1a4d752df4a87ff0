<?php

use PHPUnit\Framework\TestCase;

/** The wording fetch against a local HTTP server standing in for ShopNudge. */
final class WordingTest extends TestCase {
	private static $server;
	private static string $url;
	private static string $log;
	private static string $down;
	private int $now = 1_800_000_000;

	public static function setUpBeforeClass(): void {
		self::$log  = tempnam( sys_get_temp_dir(), 'shopnudge-log' );
		self::$down = sys_get_temp_dir() . '/shopnudge-down-' . getmypid();
		$socket     = stream_socket_server( 'tcp://127.0.0.1:0' );
		$port       = (int) substr( strrchr( stream_socket_get_name( $socket, false ), ':' ), 1 );
		fclose( $socket );
		$env          = array_merge( getenv(), array( 'SHOPNUDGE_TEST_LOG' => self::$log, 'SHOPNUDGE_TEST_DOWN' => self::$down ) );
		$router       = __DIR__ . '/fixtures/shopnudge-server.php';
		self::$server = proc_open( array( PHP_BINARY, '-S', "127.0.0.1:$port", $router ), array( 1 => array( 'file', '/dev/null', 'w' ), 2 => array( 'file', '/dev/null', 'w' ) ), $pipes, null, $env );
		self::$url    = "http://127.0.0.1:$port";
		for ( $i = 0; $i < 50 && ! @fsockopen( '127.0.0.1', $port ); $i++ ) {
			usleep( 100_000 );
		}
	}

	public static function tearDownAfterClass(): void {
		proc_terminate( self::$server );
		@unlink( self::$log );
	}

	protected function setUp(): void {
		file_put_contents( self::$log, '' );
		@unlink( self::$down );
		$GLOBALS['shopnudge_test_options'] = array(
			ShopNudge_Settings::SERVER    => self::$url,
			ShopNudge_Settings::STORE_KEY => 'k3y-Store_01',
		);
	}

	private function wording(): ShopNudge_Wording {
		return new ShopNudge_Wording( fn() => $this->now );
	}

	private function requests(): array {
		return array_values( array_filter( explode( "\n", file_get_contents( self::$log ) ) ) );
	}

	public function test_the_first_label_is_fetched_in_the_buyers_language_and_cached(): void {
		$first  = $this->wording()->for_locale( 'de_DE' );
		$second = $this->wording()->for_locale( 'de_AT' );

		$this->assertSame( 4, $first['version'] );
		$this->assertSame( 'de', $first['locale'] );
		$this->assertSame( 'Ja, Rösterei Wagner darf mir Nachrichten per WhatsApp senden. STOPP beendet es.', $first['text'] );
		$this->assertSame( $first, $second );
		$this->assertSame( array( '/api/v1/stores/k3y-Store_01/optin-form?locale=de' ), $this->requests() );
		$this->assertSame( $this->now, get_option( 'shopnudge_wording_de' )['fetched_at'] );
	}

	public function test_an_hour_later_the_wording_is_fetched_again(): void {
		$this->wording()->for_locale( 'en_US' );
		$this->now += ShopNudge_Wording::LIFETIME;

		$this->wording()->for_locale( 'en_GB' );

		$this->assertCount( 2, $this->requests() );
	}

	public function test_when_shopnudge_is_down_the_cached_wording_is_kept(): void {
		$cached = $this->wording()->for_locale( 'de_DE' );
		$this->now += ShopNudge_Wording::LIFETIME + 1;
		touch( self::$down );

		$this->assertSame( $cached, $this->wording()->for_locale( 'de_DE' ) );
		$this->assertCount( 2, $this->requests() );
		$this->assertSame( $cached, get_option( 'shopnudge_wording_de' )['wording'] );
	}

	public function test_without_a_cache_an_unreachable_shopnudge_asks_nothing(): void {
		touch( self::$down );

		$this->assertNull( $this->wording()->for_locale( 'de_DE' ) );
		$this->assertFalse( get_option( 'shopnudge_wording_de' ) );
	}

	public function test_an_unknown_store_key_gets_no_label(): void {
		update_option( ShopNudge_Settings::STORE_KEY, 'not-our-store' );

		$this->assertNull( $this->wording()->for_locale( 'de_DE' ) );
	}

	public function test_an_unconfigured_plugin_makes_no_request(): void {
		update_option( ShopNudge_Settings::SERVER, '' );

		$this->assertNull( $this->wording()->for_locale( 'de_DE' ) );
		$this->assertSame( array(), $this->requests() );
	}
}
