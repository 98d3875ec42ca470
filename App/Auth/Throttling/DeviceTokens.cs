using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.DataProtection;

namespace SessionGate.Auth;

/// <summary>
/// Device tokens (OWASP "device cookies"): issued at every successful login, and sent back by the same device at its
/// next login, as the <c>__Host-device</c> cookie or as <c>device_token</c> in the body. A valid token says "this
/// device signed in to this account before", so its logins are counted on their own and go first for hashing.
/// <para>
/// The token is the device id, a digest of the account (tenant and username) and an expiry, sealed with Data
/// Protection (authenticated encryption under the key ring that every instance shares through PostgreSQL): it
/// cannot be forged or moved to another account, and it needs no storage. It proves nothing about the password
/// and grants no access: it only decides which failures a login is counted with.
/// </para>
/// </summary>
public sealed class DeviceTokens(IDataProtectionProvider dataProtection, TimeProvider time, IOptions<LoginLimitOptions> options)
{
    public const string CookieName = "__Host-device";

    // Far above a real token (about 150 characters): longer input is not worth decrypting.
    private const int MaxLength = 1024;
    private const string Version = "d1";

    private readonly ITimeLimitedDataProtector _protector =
        dataProtection.CreateProtector("SessionGate.DeviceTokens.v1").ToTimeLimitedDataProtector();

    /// <summary>A token for <paramref name="device"/> on <paramref name="account"/> (see <see cref="LoginService.Account"/>).</summary>
    public string Issue(string account, Guid device) =>
        _protector.Protect($"{Version}|{device:N}|{Digest(account)}", time.GetUtcNow() + options.Value.DeviceTokenLifetime);

    /// <summary>The device id when <paramref name="token"/> is a valid, unexpired token of <paramref name="account"/>; otherwise null.</summary>
    public Guid? Validate(string? token, string account)
    {
        if (string.IsNullOrEmpty(token) || token.Length > MaxLength) return null;
        string payload;
        try
        {
            payload = _protector.Unprotect(token, out _);
        }
        catch (CryptographicException)
        {
            return null; // forged, tampered, expired, or sealed under a key this service does not have
        }
        var parts = payload.Split('|');
        if (parts.Length != 3 || parts[0] != Version || !Guid.TryParseExact(parts[1], "N", out var device)) return null;
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(parts[2]), Encoding.ASCII.GetBytes(Digest(account))) ? device : null;
    }

    /// <summary>The token a login presents: the body's, else the cookie's.</summary>
    public static string? Presented(HttpContext http, string? body) =>
        !string.IsNullOrEmpty(body) ? body : http.Request.Cookies.TryGetValue(CookieName, out var cookie) ? cookie : null;

    /// <summary>Sets the long-lived device cookie (HttpOnly, Secure, SameSite=Strict, Path=/, so the __Host- prefix holds).</summary>
    public void AppendCookie(HttpContext http, string token)
    {
        var lifetime = options.Value.DeviceTokenLifetime;
        http.Response.Cookies.Append(CookieName, token, new CookieOptions
        {
            HttpOnly = true,
            Secure = true,
            SameSite = SameSiteMode.Strict,
            Path = "/",
            IsEssential = true,
            MaxAge = lifetime,
            Expires = time.GetUtcNow() + lifetime,
        });
    }

    private static string Digest(string account) =>
        Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(account)), 0, 18);
}
