using System.Linq.Expressions;
using SessionGate.Caching;
using SessionGate.Data;
using SessionGate.Sessions;

namespace SessionGate.Mfa;

/// <summary>
/// After a session's assurance changed in PostgreSQL (a step-up, an enrolment that lifts the enrolment-only
/// restriction), rewrites its Redis entry (Opaque, SessionCache; nothing in Blacklist, whose tokens carry it and
/// whose next token reads the row) and tells every instance to drop the user's L1 entries.
/// <para>
/// This is not an outbox change on purpose: a lost write only leaves the entry at a lower assurance (aal1, or still
/// restricted), which is the safe direction. The session then asks for a step-up again, or the entry is rebuilt from
/// PostgreSQL (which has the raised row) when Redis loses it; it never grants more than PostgreSQL says.
/// </para>
/// </summary>
public sealed partial class AssuranceWriter(AppDbContext db, IAuthMode mode, InvalidationBus bus, TimeProvider time, ILogger<AssuranceWriter> logger)
{
    public async Task MirrorAsync(Guid userId, Expression<Func<Session, bool>> which, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var live = await SessionReader.LoadSnapshotsAsync(db, db.Sessions.Where(s => s.UserId == userId).Where(which).Where(SessionReader.IsLive(now)), ct);
        try
        {
            foreach (var (row, snapshot) in live) await mode.AfterIssueAsync(row, snapshot, ct);
            await bus.PublishAsync(new UserInvalidated(userId));
        }
        catch (Exception e) when (DependencyHealth.IsTransient(e))
        {
            LogMirrorFailed(logger, e.GetType().Name);
        }
    }

    /// <summary>A factor is enrolled now: the user's enrolment-only sessions become ordinary ones (at the level they had).</summary>
    public async Task LiftEnrollmentAsync(Guid userId, CancellationToken ct)
    {
        var lifted = await db.Sessions.Where(s => s.UserId == userId && s.MfaEnrollmentRequired && s.RevokedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(x => x.MfaEnrollmentRequired, false), ct);
        if (lifted > 0) await MirrorAsync(userId, s => true, ct);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A session's raised assurance did not reach Redis ({ExceptionType}); it stays at the lower one until rebuilt")]
    private static partial void LogMirrorFailed(ILogger logger, string exceptionType);
}
