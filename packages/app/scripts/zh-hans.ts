/**
 * Simplified Chinese from the Traditional: every string of zh-Hant.ts through OpenCC (opencc-js, Taiwan
 * with its phrases to mainland China), then the reviewed corrections below, where the converter's word is
 * not the one mainland health apps use. scripts/make-zh-hans.ts writes the result to src/i18n/zh-Hans.ts;
 * src/i18n/zh-hans.test.ts fails when that file is not what this makes.
 */
import * as OpenCC from 'opencc-js';
import { zhHant } from '../src/i18n/zh-Hant';
import type { Translation } from '../src/i18n/en';

/** Reviewed: key path → the Simplified text to use instead of the converter's. */
export const REVIEWED: Readonly<Record<string, string>> = {
  // Each language by its own name, in every language.
  'languages.zh-Hant': '繁體中文',
  'fields.primaryCareProvider': '家庭医生',
  'fields.providerId': '医生',
  'fields.clinicianId': '医生',
  'directory.title': '查找医生',
  'directory.none': '没有符合的医生。',
  'directory.find': '在名录中查找',
  'kinds.plans.emptyHint': '您的医生制定的计划会显示在这里。',
  'kinds.labs.emptyHint': '输入纸质报告上的结果,或由您的医生发送。',
  'hints.account': '医生的 Hale 账户。可在名录中查找。',
  'fieldError.account': '不是 Hale 账户代码。请在名录中查找医生。',
  'kinds.notes.emptyHint': '关于您照护的笔记,采用医生使用的 SOAP 格式。',
  'enum.profileStatus.inactive': '停用',
  'records.inactive': '已停用',
  'enum.planStatus.active': '执行中',
  'enum.documentType.imaging': '影像',
  'enum.labStatus.entered-in-error': '录入错误',
  'workspace.nav.schedule': '日程',
  'workspace.schedule.title': '日程',
  'fields.performedAt': '执行日期',
  'enum.procedureStatus.not-done': '未执行',
  'enum.observationCategory.imaging': '影像',
  'kinds.clinician-profiles.title': '医生资料',
  'kinds.clinician-profiles.one': '医生资料',
  'fields.deceased': '已去世',
  'enum.familyRelationship.niece': '侄女或外甥女',
  'enum.familyRelationship.nephew': '侄子或外甥',
};

/** Reviewed: mainland terms and punctuation for what the converter leaves in Taiwan usage. */
export const TERMS: readonly (readonly [string, string])[] = [
  ['帐户', '账户'],
  ['复原密钥', '恢复密钥'],
  ['通行密语', '密码短语'],
  ['个人数据', '个人资料'],
  ['您的数据', '您的资料'],
  ['数组', '几组'],
  ['脱机', '离线'],
  ['拷贝', '复制'],
  ['保存空间', '存储空间'],
  ['扫描档', '扫描件'],
  ['主要导览', '主导航'],
  ['笔记录', '条记录'],
  ['签章', '签名'],
  ['截取', '获取'],
  ['纸本', '纸质'],
  ['皮夹', '钱包'],
  ['窜改', '篡改'],
  ['导出档', '导出文件'],
  ['详细数据', '详细信息'],
  ['内视镜', '内镜'],
  ['每笔', '每条'],
  ['{{count}} 笔', '{{count}} 条'],
  ['通行码', '访问码'],
  ['存盘', '存档'],
  ['生命征象', '生命体征'],
  ['医师', '医生'],
  ['名录数据', '名录资料'],
  ['公开数据', '公开资料'],
  ['数据未公开', '资料未公开'],
  ['数据以您', '资料以您'],
  ['运行中', '执行中'],
  ['「', '“'],
  ['」', '”'],
];

type Tree = { readonly [key: string]: string | Tree };

const mapTree = (tree: Tree, at: string, convert: (text: string, path: string) => string): Tree =>
  Object.fromEntries(
    Object.entries(tree).map(([key, value]) => {
      const path = at === '' ? key : `${at}.${key}`;
      return [key, typeof value === 'string' ? convert(value, path) : mapTree(value, path, convert)];
    }),
  );

export const makeZhHans = (): Translation => {
  const converter = OpenCC.Converter({ from: 'twp', to: 'cn' });
  const terms = (text: string): string => TERMS.reduce((t, [from, to]) => t.replaceAll(from, to), text);
  return mapTree(zhHant, '', (text, path) => REVIEWED[path] ?? terms(converter(text))) as Translation;
};
