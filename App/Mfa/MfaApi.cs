using QRCoder;
using SessionGate.Audit;
using SessionGate.Auth;
using SessionGate.Data;
using SessionGate.Sessions;

namespace SessionGate.Mfa;

/// <summary>The caller's own second factors: TOTP, recovery codes, passkeys (each change needs a recent second factor when the caller has one).</summary>
public static class MfaApi
{
    // GET    /auth/mfa                     the caller's factors
    // POST   /auth/mfa/totp                start TOTP enrolment            step-up
    // GET    /auth/mfa/totp/qr             its QR code (SVG)
    // POST   /auth/mfa/totp/confirm        confirm with a code             step-up
    // DELETE /auth/mfa/totp                                                step-up
    // POST   /auth/mfa/recovery-codes      a new set                       step-up
    // POST   /auth/passkeys/options        start registering a passkey     step-up
    // POST   /auth/passkeys                finish it                       step-up
    // DELETE /auth/passkeys/{id}                                           step-up
    public static RouteGroupBuilder MapMfaApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/auth").WithTags("Second factor").RequireAuthorization().CapturesAuditContext();
        group.MapGet("/mfa", Status).WithName("GetMfa").WithSummary("The caller's second factors.");
        group.MapPost("/mfa/totp", StartTotp).RequireStepUp(policyCounts: false).WithName("StartTotp")
            .WithSummary("Start TOTP enrolment: a Base32 secret and its otpauth:// URI (RFC 6238, 6 digits, 30 s, SHA-1); inactive until confirmed.")
            .ProducesProblems(409, Problems.Conflict)
            .WithProblemExample(Problems.Conflict, "An authenticator app is already set up; remove it first (DELETE /auth/mfa/totp).");
        group.MapGet("/mfa/totp/qr", TotpQr).WithName("TotpQrCode").WithSummary("The QR code (SVG) of the TOTP enrolment waiting for confirmation.")
            .Produces(200, contentType: "image/svg+xml").ProducesProblems(404, Problems.NotFound);
        group.MapPost("/mfa/totp/confirm", ConfirmTotp).RequireStepUp(policyCounts: false).WithName("ConfirmTotp")
            .WithSummary("Confirm TOTP with a code from the app; answers 10 single-use recovery codes (a new set), shown once.")
            .ProducesProblems(400, Problems.Validation, Problems.InvalidMfaCode);
        group.MapDelete("/mfa/totp", RemoveTotp).RequireStepUp(policyCounts: false).WithName("RemoveTotp").WithSummary("Remove TOTP.")
            .ProducesProblems(400, Problems.Validation).ProducesProblems(404, Problems.NotFound);
        group.MapPost("/mfa/recovery-codes", NewRecoveryCodes).RequireStepUp(policyCounts: false).WithName("NewRecoveryCodes")
            .WithSummary("A new set of 10 recovery codes; the old set stops working.").ProducesProblems(400, Problems.Validation);
        group.MapPost("/passkeys/options", PasskeyOptions).RequireStepUp(policyCounts: false).WithName("PasskeyRegistrationOptions")
            .WithSummary("Start registering a passkey: PublicKeyCredentialCreationOptions (JSON form) and the ceremony id (single use, 5 minutes).");
        group.MapPost("/passkeys", AddPasskey).RequireStepUp(policyCounts: false).WithName("AddPasskey")
            .WithSummary("Finish registering a passkey with the browser's attestation response.")
            .ProducesProblems(400, Problems.Validation, Problems.InvalidMfaCode).ProducesProblems(409, Problems.Conflict)
            .WithProblemExample(Problems.Conflict, "It already exists.");
        group.MapDelete("/passkeys/{id:guid}", RemovePasskey).RequireStepUp(policyCounts: false).WithName("RemovePasskey")
            .WithSummary("Remove one of the caller's passkeys (another's id is 404).").ProducesProblems(400, Problems.Validation).ProducesProblems(404, Problems.NotFound);
        return group;
    }

    private static async Task<Ok<MfaStatus>> Status(ClaimsPrincipal user, AppDbContext db, Factors factors, CancellationToken ct)
    {
        var userId = user.UserId();
        var summary = await factors.SummaryAsync(userId, ct);
        var passkeys = await db.Passkeys.AsNoTracking().Where(p => p.UserId == userId).OrderBy(p => p.CreatedAt)
            .Select(p => new PasskeyView(p.Id, p.Name, p.CreatedAt, p.LastUsedAt)).ToListAsync(ct);
        return TypedResults.Ok(new MfaStatus(summary.Totp, passkeys, summary.RecoveryCodesLeft));
    }

    private static async Task<Results<Ok<TotpEnrollment>, ProblemHttpResult>> StartTotp(
        ClaimsPrincipal user, Factors factors, IOptions<MfaOptions> options, CancellationToken ct)
    {
        var account = $"{user.FindFirstValue(SessionClaims.Name)}@{user.FindFirstValue(SessionClaims.Tenant)}";
        var started = await factors.StartTotpAsync(user.UserId(), account, options.Value.TotpIssuer, ct);
        return started is { } s ? TypedResults.Ok(new TotpEnrollment(s.Secret, s.Uri))
            : Problems.Result(409, Problems.Conflict, "An authenticator app is already set up; remove it first (DELETE /auth/mfa/totp).");
    }

    private static async Task<Results<FileContentHttpResult, ProblemHttpResult>> TotpQr(
        ClaimsPrincipal user, Factors factors, IOptions<MfaOptions> options, CancellationToken ct)
    {
        var secret = await factors.PendingTotpSecretAsync(user.UserId(), ct);
        if (secret is null) return Problems.NotFoundResult();
        var account = $"{user.FindFirstValue(SessionClaims.Name)}@{user.FindFirstValue(SessionClaims.Tenant)}";
        using var generator = new QRCodeGenerator();
        using var data = generator.CreateQrCode(Factors.UriOf(secret, account, options.Value.TotpIssuer), QRCodeGenerator.ECCLevel.M);
        var svg = new SvgQRCode(data).GetGraphic(6);
        return TypedResults.File(System.Text.Encoding.UTF8.GetBytes(svg), "image/svg+xml");
    }

    private static async Task<Results<Ok<RecoveryCodesResponse>, ProblemHttpResult>> ConfirmTotp(
        TotpConfirmRequest? body, [AsParameters] FactorChange change, AssuranceWriter writer, CancellationToken ct)
    {
        if (!Factors.IsCodeShaped(body?.Code)) return Problems.ValidationFailed("code must be the 6 digits the authenticator app shows.", "code");
        var (userId, factors) = (change.UserId, change.Factors);
        if (!await factors.ConfirmTotpAsync(userId, body!.Code!, ct))
        {
            await change.RecordAsync("failed", MfaMethods.Totp, MfaAuditTypes.Failed, new { method = MfaMethods.Totp, purpose = "enrol" }, ct);
            return Problems.Result(400, Problems.InvalidMfaCode, "The code does not match the secret (or there is no enrolment to confirm): check the app's clock and try the current code.");
        }
        var codes = await factors.NewRecoveryCodesAsync(userId, ct);
        change.Audit.Record(MfaAuditTypes.TotpEnrolled, userId);
        await change.RecordAsync("enrolled", MfaMethods.Totp, MfaAuditTypes.RecoveryCodesCreated, new { count = codes.Length }, ct);
        await writer.LiftEnrollmentAsync(userId, ct);
        return TypedResults.Ok(new RecoveryCodesResponse(codes));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> RemoveTotp(
        [AsParameters] FactorChange change, AppDbContext db, CancellationToken ct)
    {
        var (user, userId, factors) = (change.User, change.UserId, change.Factors);
        var summary = await factors.SummaryAsync(userId, ct);
        if (!summary.Totp && !await db.TotpFactors.AnyAsync(t => t.UserId == userId, ct)) return Problems.NotFoundResult();
        if (summary.Totp && summary.Passkeys == 0 && await MfaPolicies.RequiresAsync(db, user, ct))
            return Problems.ValidationFailed("Your tenant requires a second factor: add a passkey before removing the authenticator app.");
        await factors.RemoveTotpAsync(userId, ct);
        // Recovery codes stand in for a factor; without any factor left they would be a factor of their own.
        if (summary.Passkeys == 0) await factors.RemoveRecoveryCodesAsync(userId, ct);
        await change.RecordAsync("removed", MfaMethods.Totp, MfaAuditTypes.TotpRemoved, null, ct);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<RecoveryCodesResponse>, ProblemHttpResult>> NewRecoveryCodes(
        [AsParameters] FactorChange change, CancellationToken ct)
    {
        var (userId, factors) = (change.UserId, change.Factors);
        if (!await factors.HasAnyAsync(userId, ct)) return Problems.ValidationFailed("Recovery codes stand in for a second factor: enrol one first.");
        var codes = await factors.NewRecoveryCodesAsync(userId, ct);
        await change.RecordAsync("enrolled", MfaMethods.RecoveryCode, MfaAuditTypes.RecoveryCodesCreated, new { count = codes.Length }, ct);
        return TypedResults.Ok(new RecoveryCodesResponse(codes));
    }

    private static async Task<Ok<CeremonyStart>> PasskeyOptions(ClaimsPrincipal user, Passkeys passkeys, CancellationToken ct) =>
        TypedResults.Ok(await passkeys.StartRegistrationAsync(user.UserId(), user.TenantIdOf(), user.FindFirstValue(SessionClaims.Name)!, ct));

    private static async Task<Results<Created<PasskeyCreated>, ProblemHttpResult>> AddPasskey(
        PasskeyRegistration? body, [AsParameters] FactorChange change, Passkeys passkeys, AssuranceWriter writer, CancellationToken ct)
    {
        if (body is null || string.IsNullOrEmpty(body.CeremonyId) || body.CeremonyId.Length > 64 || body.Credential is not { ValueKind: System.Text.Json.JsonValueKind.Object })
            return Problems.ValidationFailed("ceremony_id and credential (the browser's PublicKeyCredential as JSON) are required.");
        if (body.Name is { Length: > 64 }) return Problems.ValidationFailed("name is too long (at most 64).", "name");
        var (userId, tenantId) = (change.UserId, change.User.TenantIdOf());
        var passkey = await passkeys.FinishRegistrationAsync(userId, tenantId, body.CeremonyId, body.Credential.Value, body.Name, ct);
        if (passkey is null)
        {
            await change.RecordAsync("failed", MfaMethods.Passkey, MfaAuditTypes.Failed, new { method = MfaMethods.Passkey, purpose = "enrol" }, ct);
            return Problems.Result(400, Problems.InvalidMfaCode, "The passkey was not registered: the ceremony is unknown, spent or expired, or the authenticator's answer was refused.");
        }
        await change.RecordAsync("enrolled", MfaMethods.Passkey, MfaAuditTypes.PasskeyAdded, new { passkey_id = passkey.Id, name = passkey.Name }, ct);
        await writer.LiftEnrollmentAsync(userId, ct);
        return TypedResults.Created($"/auth/passkeys/{passkey.Id}", new PasskeyCreated(passkey.Id, passkey.Name, passkey.CreatedAt));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> RemovePasskey(
        [System.ComponentModel.Description("The passkey's id (from GET /auth/mfa).")] Guid id, [AsParameters] FactorChange change, AppDbContext db,
        CancellationToken ct)
    {
        var (user, userId, factors) = (change.User, change.UserId, change.Factors);
        if (!await db.Passkeys.AnyAsync(p => p.Id == id && p.UserId == userId, ct)) return Problems.NotFoundResult();
        var summary = await factors.SummaryAsync(userId, ct);
        var last = !summary.Totp && summary.Passkeys == 1;
        if (last && await MfaPolicies.RequiresAsync(db, user, ct))
            return Problems.ValidationFailed("Your tenant requires a second factor: add another one before removing your last passkey.");
        await db.Passkeys.Where(p => p.Id == id && p.UserId == userId).ExecuteDeleteAsync(ct);
        if (last) await factors.RemoveRecoveryCodesAsync(userId, ct);
        await change.RecordAsync("removed", MfaMethods.Passkey, MfaAuditTypes.PasskeyRemoved, new { passkey_id = id }, ct);
        return TypedResults.NoContent();
    }
}
