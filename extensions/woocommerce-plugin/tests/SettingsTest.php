<?php

use PHPUnit\Framework\TestCase;

final class SettingsTest extends TestCase {
	protected function setUp(): void {
		$GLOBALS['shopnudge_test_options'] = array();
	}

	public function test_the_server_must_be_https_and_loses_its_trailing_slash(): void {
		$this->assertSame( 'https://nudge.example.com', ShopNudge_Settings::sanitize_server( ' https://nudge.example.com/ ' ) );
		$this->assertSame( '', ShopNudge_Settings::sanitize_server( 'http://nudge.example.com' ) );
		$this->assertSame( '', ShopNudge_Settings::sanitize_server( 'nudge.example.com' ) );
		$this->assertSame( '', ShopNudge_Settings::sanitize_server( 'javascript:alert(1)' ) );
	}

	public function test_a_store_key_is_what_shopnudge_issues_and_nothing_else(): void {
		$this->assertSame( 'k3y-Store_01', ShopNudge_Settings::sanitize_store_key( ' k3y-Store_01 ' ) );
		$this->assertSame( '', ShopNudge_Settings::sanitize_store_key( 'k3y/../admin' ) );
		$this->assertSame( '', ShopNudge_Settings::sanitize_store_key( 'short' ) );
	}

	public function test_the_plugin_is_configured_only_with_both_server_and_key(): void {
		$this->assertFalse( ShopNudge_Settings::configured() );
		update_option( ShopNudge_Settings::SERVER, 'https://nudge.example.com' );
		$this->assertFalse( ShopNudge_Settings::configured() );
		update_option( ShopNudge_Settings::STORE_KEY, 'k3y-Store_01' );
		$this->assertTrue( ShopNudge_Settings::configured() );
	}
}
