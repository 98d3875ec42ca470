using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using OtpNet;
using SessionGate.Infrastructure;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Mfa;

/// <summary>
/// A user's TOTP enrolment as the test knows it: the secret it read, the code it confirmed with (spent: never accepted
/// again, whatever the time step now) and the recovery codes it was shown.
/// </summary>
public sealed record TotpEnrolment(string Secret, string ConfirmedWith, string[] RecoveryCodes)
{
    /// <summary>The code <paramref name="steps"/> time steps from now (the server accepts one step either side, each once).</summary>
    public string Code(int steps = 0) => Codes.At(Secret, steps);
}

public static class Codes
{
    public static string At(string secret, int steps = 0) => new Totp(Base32Encoding.ToBytes(secret)).ComputeTotp(DateTime.UtcNow.AddSeconds(30 * steps));
}

/// <summary>The second-factor flows over HTTP, exactly as a client does them.</summary>
public sealed class MfaSteps(ApiClient api)
{
    /// <summary>Enrols TOTP with the current code; returns the secret and the recovery codes shown.</summary>
    public async Task<TotpEnrolment> EnrolTotpAsync(Login login)
    {
        var start = await (await api.SendAsync(HttpMethod.Post, "/auth/mfa/totp", login)).ReadAsync<TotpStart>();
        var code = Codes.At(start.Secret);
        var confirmed = await (await api.SendAsync(HttpMethod.Post, "/auth/mfa/totp/confirm", login, new { code })).ReadAsync<RecoveryCodeSet>();
        return new TotpEnrolment(start.Secret, code, confirmed.RecoveryCodes);
    }

    /// <summary>POST /auth/login that must answer mfa-required; returns the problem (mfa_token, methods, expires_in).</summary>
    public async Task<ProblemDocument> PasswordStepAsync(TestUser user)
    {
        var response = await api.LoginRawAsync(new { tenant = user.Tenant, username = user.Username, password = user.Password });
        return await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, Problems.MfaRequired);
    }

    public Task<HttpResponseMessage> SecondStepAsync(string mfaToken, object proof)
    {
        var body = JsonSerializer.SerializeToNode(proof)!.AsObject();
        body["mfa_token"] = mfaToken;
        return api.Http.PostAsJsonAsync("/auth/login/mfa", body);
    }

    /// <summary>Password, then a code one step ahead (the enrolment spent the current step).</summary>
    public async Task<Login> LoginWithTotpAsync(TestUser user, TotpEnrolment totp, int steps = 1)
    {
        var challenge = await PasswordStepAsync(user);
        return await ApiClient.ReadLoginAsync(await SecondStepAsync(challenge.MfaToken!, new { code = totp.Code(steps) }));
    }

    public async Task<Guid> RegisterPasskeyAsync(Login login, SoftAuthenticator authenticator, string? name = null, bool userVerified = true)
    {
        var start = await CreationAsync(login);
        var credential = authenticator.Create(start.Options, userVerified);
        var created = await (await api.SendAsync(HttpMethod.Post, "/auth/passkeys", login,
            new { ceremony_id = start.CeremonyId, credential, name })).ReadAsync<PasskeyCreated>(HttpStatusCode.Created);
        return created.Id;
    }

    /// <summary>POST /auth/step-up; in the JWT modes the answer's new tokens replace the login's.</summary>
    public async Task<(HttpResponseMessage Response, Login Login)> StepUpAsync(Login login, object proof)
    {
        var response = await api.SendAsync(HttpMethod.Post, "/auth/step-up", login, proof);
        if (response.StatusCode != HttpStatusCode.OK) return (response, login);
        var body = await response.ReadAsync<StepUpAnswer>();
        return (response, body.AccessToken is { } access ? login with { Bearer = access, Refresh = body.RefreshToken } : login);
    }

    /// <summary>POST /auth/passkeys/options: a registration ceremony for the caller.</summary>
    public async Task<CeremonyStart<CreationOptions>> CreationAsync(Login login, Action<HttpRequestMessage>? configure = null) =>
        await (await api.SendAsync(HttpMethod.Post, "/auth/passkeys/options", login, new { }, configure)).ReadAsync<CeremonyStart<CreationOptions>>();

    /// <summary>An assertion ceremony (login/mfa/options, passkeys/login/options, step-up/options).</summary>
    public async Task<(string CeremonyId, RequestOptions Options)> OptionsAsync(string path, Login? login, object? body = null)
    {
        var start = await (await api.SendAsync(HttpMethod.Post, path, login, body ?? new { })).ReadAsync<CeremonyStart<RequestOptions>>();
        return (start.CeremonyId, start.Options);
    }

    public static object PasskeyProof(string ceremonyId, JsonObject credential) => new { ceremony_id = ceremonyId, credential };
}
