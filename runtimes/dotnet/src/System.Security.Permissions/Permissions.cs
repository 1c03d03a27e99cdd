// Debian's Json.NET (libnewtonsoft-json5.0-cil, a .NET Framework 4.5 build: fc-emulator's default serializer
// when a function ships none) demands code-access permissions once, through types .NET Core 3.1 forwards to a
// System.Security.Permissions assembly it does not ship. These stand-ins grant everything, as .NET Core does;
// the agent hands them out only when nothing else provides that assembly.
using System.Reflection;

[assembly: AssemblyVersion("4.0.3.0")]

namespace System.Security
{
    public abstract class CodeAccessPermission : IPermission, ISecurityEncodable, IStackWalk
    {
        public void Assert() { }
        public void Demand() { }
        public void Deny() { }
        public void PermitOnly() { }
        public abstract IPermission Copy();
        public abstract IPermission Intersect(IPermission target);
        public abstract bool IsSubsetOf(IPermission target);
        public virtual IPermission Union(IPermission other) { return Copy(); }
        public abstract void FromXml(SecurityElement elem);
        public abstract SecurityElement ToXml();
    }
}

namespace System.Security.Permissions
{
    public interface IUnrestrictedPermission
    {
        bool IsUnrestricted();
    }

    [Flags]
    public enum ReflectionPermissionFlag
    {
        NoFlags = 0,
        TypeInformation = 1,
        MemberAccess = 2,
        ReflectionEmit = 4,
        AllFlags = 7,
        RestrictedMemberAccess = 8,
    }

    public abstract class GrantedPermission : CodeAccessPermission, IUnrestrictedPermission
    {
        public bool IsUnrestricted() { return true; }
        public override IPermission Copy() { return this; }
        public override IPermission Intersect(IPermission target) { return this; }
        public override bool IsSubsetOf(IPermission target) { return true; }
        public override void FromXml(SecurityElement elem) { }
        public override SecurityElement ToXml() { return new SecurityElement("IPermission"); }
    }

    public sealed class ReflectionPermission : GrantedPermission
    {
        public ReflectionPermission(PermissionState state) { }
        public ReflectionPermission(ReflectionPermissionFlag flag) { Flags = flag; }
        public ReflectionPermissionFlag Flags { get; set; }
    }

    public sealed class SecurityPermission : GrantedPermission
    {
        public SecurityPermission(PermissionState state) { }
        public SecurityPermission(SecurityPermissionFlag flag) { Flags = flag; }
        public SecurityPermissionFlag Flags { get; set; }
    }
}
