using Fido2NetLib;
using SessionGate.Auth;

namespace SessionGate.Mfa;

/// <summary>Second factors (TOTP, recovery codes, passkeys), step-up and the enrolment-only session.</summary>
public static class MfaRegistration
{
    public static IServiceCollection AddMfa(this IServiceCollection services)
    {
        services.AddOptions<MfaOptions>().BindConfiguration("Mfa")
            .Validate(o => o.StepUpMaxAge > TimeSpan.Zero, "Mfa:StepUpMaxAge must be positive.")
            .Validate(o => o.PendingLifetime > TimeSpan.Zero && o.PendingLifetime <= TimeSpan.FromMinutes(15), "Mfa:PendingLifetime must be positive and at most 00:15:00.")
            .Validate(o => o.MaxCodeFailures is >= 1 and <= 20, "Mfa:MaxCodeFailures must be between 1 and 20.")
            .Validate(o => !string.IsNullOrWhiteSpace(o.TotpIssuer) && !o.TotpIssuer.Contains(':'), "Mfa:TotpIssuer must be a name without ':'.")
            .ValidateOnStart();
        services.AddOptions<WebAuthnOptions>().BindConfiguration("WebAuthn")
            .Validate(o => !string.IsNullOrWhiteSpace(o.RpId) && Uri.CheckHostName(o.RpId) == UriHostNameType.Dns, "WebAuthn:RpId must be a domain name (an IP address cannot be an RP ID).")
            .Validate(o => o.OriginProblem() is null, "WebAuthn:Origins must list origins whose host is WebAuthn:RpId or under it.")
            .Validate(o => WebAuthnOptions.AttestationValues.Contains(o.Attestation), "WebAuthn:Attestation must be none, indirect, direct or enterprise.")
            .Validate(o => o.ChallengeLifetime > TimeSpan.Zero && o.ChallengeLifetime <= TimeSpan.FromMinutes(5), "WebAuthn:ChallengeLifetime must be positive and at most 00:05:00.")
            .ValidateOnStart();
        services.AddSingleton<IFido2>(sp =>
        {
            var o = sp.GetRequiredService<IOptions<WebAuthnOptions>>().Value;
            // The relying party comes from configuration only: never from the request's Host.
            return new Fido2(new Fido2Configuration
            {
                RPID = o.RpId,
                RPName = o.RpName,
                Origins = o.Origins.Select(x => x.TrimEnd('/')).ToHashSet(StringComparer.OrdinalIgnoreCase),
                Timeout = (uint)o.ChallengeLifetime.TotalMilliseconds,
                ChallengeSize = 32, // 256 bits (the library's default is 128)
            }, null!);
        });
        services.AddSingleton<MfaStore>();
        services.AddSingleton<MfaMetrics>();
        services.AddScoped<Factors>();
        services.AddScoped<Passkeys>();
        services.AddScoped<ProofVerifier>();
        services.AddScoped<AssuranceWriter>();
        services.AddScoped<MfaLogins>();
        services.AddScoped<ILoginSecondFactor>(sp => sp.GetRequiredService<MfaLogins>());
        services.AddScoped<StepUps>();
        services.AddScoped<IStepUpPolicy, StepUpPolicy>();
        return services;
    }

    /// <summary>/auth's second-factor routes: the caller's factors, and signing in or stepping up with one.</summary>
    public static IEndpointRouteBuilder MapMfa(this IEndpointRouteBuilder app)
    {
        app.MapMfaApi();
        app.MapMfaLoginApi();
        return app;
    }
}
