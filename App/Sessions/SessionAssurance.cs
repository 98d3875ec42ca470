namespace SessionGate.Sessions;

/// <summary>How a session's user proved who they are, as RFC 8176 names the methods (<c>amr</c>).</summary>
[Flags]
public enum AuthMethods : byte
{
    None = 0,
    /// <summary><c>pwd</c>: a password.</summary>
    Password = 1,
    /// <summary><c>otp</c>: a one-time code (TOTP, or a recovery code).</summary>
    OneTimeCode = 2,
    /// <summary><c>hwk</c>: a passkey (proof of possession of a key held by an authenticator).</summary>
    HardwareKey = 4,
    /// <summary><c>mfa</c>: two factors were used.</summary>
    MultiFactor = 8,
}

/// <summary>
/// A session's assurance: the level (<c>acr</c>: <c>aal1</c>, or <c>aal2</c> after a second factor or a user-verified
/// passkey), the methods (<c>amr</c>) and when the user last proved them (<c>auth_time</c>, moved by a step-up).
/// <see cref="EnrollmentOnly"/> marks a session whose tenant requires a second factor the user has not enrolled yet: it
/// may call only /auth/* until one is. The level follows from the methods, so the two can never disagree.
/// </summary>
public sealed record SessionAssurance(AuthMethods Methods, DateTimeOffset AuthTime, bool EnrollmentOnly = false)
{
    public const string Aal1 = "aal1";
    public const string Aal2 = "aal2";

    public string Acr => Methods.HasFlag(AuthMethods.MultiFactor) ? Aal2 : Aal1;

    public bool IsAal2 => Methods.HasFlag(AuthMethods.MultiFactor);

    /// <summary>What a session without a recorded assurance (written by an older version) counts as: a password at its start.</summary>
    public static SessionAssurance PasswordAt(DateTimeOffset at) => new(AuthMethods.Password, at);

    /// <summary>The assurance after one more factor: two different factors make it multi-factor.</summary>
    public SessionAssurance With(AuthMethods factor, DateTimeOffset at)
    {
        var methods = Methods | factor;
        var factors = System.Numerics.BitOperations.PopCount((uint)(methods & ~AuthMethods.MultiFactor));
        if (factors >= 2) methods |= AuthMethods.MultiFactor;
        return new SessionAssurance(methods, at, EnrollmentOnly);
    }

    /// <summary>RFC 8176 names, in a stable order.</summary>
    public string[] Amr => Names(Methods);

    public static string[] Names(AuthMethods methods)
    {
        var names = new List<string>(4);
        if (methods.HasFlag(AuthMethods.Password)) names.Add("pwd");
        if (methods.HasFlag(AuthMethods.OneTimeCode)) names.Add("otp");
        if (methods.HasFlag(AuthMethods.HardwareKey)) names.Add("hwk");
        if (methods.HasFlag(AuthMethods.MultiFactor)) names.Add("mfa");
        return [.. names];
    }

    public static AuthMethods Parse(IEnumerable<string> names)
    {
        var methods = AuthMethods.None;
        foreach (var name in names)
        {
            methods |= name switch
            {
                "pwd" => AuthMethods.Password,
                "otp" => AuthMethods.OneTimeCode,
                "hwk" => AuthMethods.HardwareKey,
                "mfa" => AuthMethods.MultiFactor,
                _ => AuthMethods.None,
            };
        }
        return methods;
    }

    /// <summary>The session row's assurance (its columns), or a password at its start for rows without one.</summary>
    public static SessionAssurance Of(Data.Session s) =>
        s.Amr is { Length: > 0 } amr ? new SessionAssurance(Parse(amr), s.AuthTime ?? s.CreatedAt, s.MfaEnrollmentRequired) : PasswordAt(s.CreatedAt);

    /// <summary>Writes the assurance into the session row's columns.</summary>
    public void WriteTo(Data.Session s)
    {
        s.Acr = Acr;
        s.Amr = Amr;
        s.AuthTime = AuthTime;
        s.MfaEnrollmentRequired = EnrollmentOnly;
    }
}
